//! Live-channel fixtures: a library with a channels file, servers started on it, and reads of
//! a channel's stats and the metrics.

use std::path::PathBuf;

use grid_proto::live::{ChannelStats, SourceState};

use super::{Server, Tags, make_mp3, wait_until};

/// The fixture channel's `metaint`.
pub const METAINT: usize = 4000;

/// Two 2.5 s CBR tracks, "Artist A - One" and "Artist A - Two", and a channels file with a
/// playlist of both (`test`), plus `more` lines.
pub struct Live {
    pub dir: tempfile::TempDir,
}

impl Live {
    pub fn new(more: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        for (file, title) in [("1.mp3", "One"), ("2.mp3", "Two")] {
            make_mp3(
                &dir.path().join("lib").join(file),
                2.5,
                false,
                &Tags {
                    title: Some(title),
                    artist: Some("Artist A"),
                    album: Some("Album"),
                },
            );
        }
        std::fs::write(
            dir.path().join("channels.toml"),
            format!(
                "[[channel]]\nname = \"test\"\ngenre = \"Testing\"\ndescription = \"A test\"\n\
                 playlist = [\"One\", \"Two\"]\nmetaint = {METAINT}\nburst_ms = 500\nlag_ms = 1500\n{more}"
            ),
        )
        .unwrap();
        Live { dir }
    }

    /// The fixture's library.
    pub fn lib(&self) -> PathBuf {
        self.dir.path().join("lib")
    }

    /// Writes `toml` to `file` in the fixture's folder (another server's channels file);
    /// returns its path.
    pub fn write_channels(&self, file: &str, toml: &str) -> String {
        let path = self.dir.path().join(file);
        std::fs::write(&path, toml).unwrap();
        path.display().to_string()
    }

    /// Starts a server on the fixture's library with the channels file `channels`.
    pub async fn start_on(&self, channels: &str) -> Server {
        Server::start(&self.lib(), &["--channels", channels]).await
    }

    /// Starts a server whose one channel, `relay` (metaint 3000, bursts of 500 ms), relays the
    /// `test` channel of the server at `upstream` (`127.0.0.1:PORT`) with a lag of `lag_ms`.
    pub async fn start_relay(&self, upstream: &str, lag_ms: u32) -> Server {
        let channels = self.write_channels(
            "relay.toml",
            &format!(
                "[[channel]]\nname = \"relay\"\nsource = \"http://{upstream}/live/test\"\n\
                 metaint = 3000\nburst_ms = 500\nlag_ms = {lag_ms}\n"
            ),
        );
        self.start_on(&channels).await
    }

    /// Starts a server with the fixture's channels at `listen` (to bring one back on its port).
    pub async fn start_at(&self, listen: &str) -> Server {
        Server::start_at(&self.lib(), listen, &["--channels", &self.channels()]).await
    }

    pub fn channels(&self) -> String {
        self.dir.path().join("channels.toml").display().to_string()
    }

    pub async fn start(&self) -> Server {
        self.start_with(&[]).await
    }

    /// Like [`Live::start`], with more arguments.
    pub async fn start_with(&self, extra: &[&str]) -> Server {
        let channels = self.channels();
        let mut args = vec!["--channels", &channels];
        args.extend_from_slice(extra);
        Server::start(&self.lib(), &args).await
    }
}

/// `GET /metrics`, checked to be OpenMetrics text and parsed.
pub async fn scrape(server: &Server) -> grid_proto::scrape::Scrape {
    grid_testkit::metrics::scrape(&server.base).await
}

/// `GET /v1/channels/{name}`.
pub async fn stats(server: &Server, name: &str) -> ChannelStats {
    server
        .get(&format!("/v1/channels/{name}"))
        .await
        .json()
        .await
        .unwrap()
}

/// Waits until `server`'s channel `name` has its source in `state`.
pub async fn wait_source(server: &Server, name: &str, state: SourceState) {
    let what = format!("channel {name}'s source to be {state:?}");
    wait_until(&what, || async {
        stats(server, name).await.source.state == state
    })
    .await;
}
