//! Live channels with real peers: a relay channel fed by a real Icecast2 mount (itself fed by
//! ffmpeg), and channels on a grid: `gridadmin channel list|show`, a render on a channel through
//! `media-control`, ffprobe reading the render's ICY `/listen`, and the render rejoining the channel
//! on a replica when its MediaServer is killed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use grid_proto::descriptor::LoadBalancing;
use grid_proto::icy::{Decoder, Item};
use grid_proto::live::{ChannelStats, SourceState};
use grid_proto::media::SERVER_GROUP;
use grid_proto::media::{PlayState, RenderStatus, TrackInfo};

use crate::media::{library, media_control_ok, two_nodes};
use grid_testkit::app::{self, App};
use grid_testkit::{Grid, Killed, bin, free_port, kill9, wait_until};

const LONG: Duration = Duration::from_secs(120);

fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A Icecast2 server on a free port, with source and admin password `hackme`.
fn icecast(dir: &Path) -> (Killed, u16) {
    let port = free_port();
    let logs = dir.join("icecast-log");
    std::fs::create_dir_all(&logs).expect("log dir");
    // Icecast refuses to run as root unless it drops to another user, who must write its logs.
    let root = {
        use std::os::unix::fs::MetadataExt;
        // /proc/self belongs to the effective user.
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    };
    if root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    }
    let owner = if root {
        "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
    } else {
        ""
    };
    let config = dir.join("icecast.xml");
    std::fs::write(
        &config,
        format!(
            "<icecast><limits><clients>20</clients><sources>2</sources></limits>\
             <authentication><source-password>hackme</source-password>\
             <admin-user>admin</admin-user><admin-password>hackme</admin-password></authentication>\
             <hostname>127.0.0.1</hostname>\
             <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>\
             <fileserve>0</fileserve>\
             <paths><basedir>/usr/share/icecast2</basedir><logdir>{}</logdir>\
             <webroot>/usr/share/icecast2/web</webroot><adminroot>/usr/share/icecast2/admin</adminroot></paths>\
             <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>2</loglevel></logging>\
             <security><chroot>0</chroot>{owner}</security></icecast>",
            logs.display()
        ),
    )
    .expect("icecast.xml");
    let child = Command::new("icecast2")
        .arg("-c")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("icecast2 is installed (.ci/run installs it)");
    let proc = Killed(child);
    wait_until("icecast2 listening", LONG, || accepts(port).then_some(()));
    (proc, port)
}

/// ffmpeg feeding `track` in a loop, in real time, to the Icecast mount `/live.mp3`.
fn feed(track: &Path, port: u16) -> Killed {
    Killed::quiet(
        Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-re", "-stream_loop", "-1", "-i"])
            .arg(track)
            .args(["-c", "copy", "-content_type", "audio/mpeg", "-f", "mp3"])
            .arg(format!("icecast://source:hackme@127.0.0.1:{port}/live.mp3")),
        "ffmpeg",
    )
}

/// [`feed`], started again whenever ffmpeg gives up before the mount is live (a loaded machine can
/// make Icecast answer its first source connection late); returns once a listener gets the mount.
fn feed_until_live(rt: &tokio::runtime::Runtime, track: &Path, port: u16) -> Killed {
    let mount = format!("http://127.0.0.1:{port}/live.mp3");
    let mut source = feed(track, port);
    wait_until("the mount is live", LONG, || {
        if matches!(source.0.try_wait(), Ok(Some(_))) {
            source = feed(track, port);
        }
        rt.block_on(async { reqwest::get(&mount).await.ok() })
            .filter(|r| r.status().is_success())
            .map(|_| ())
    });
    source
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn get_json<T: serde::de::DeserializeOwned>(rt: &tokio::runtime::Runtime, url: &str) -> Option<T> {
    rt.block_on(async { reqwest::get(url).await.ok()?.json().await.ok() })
}

/// A standalone media-server with `channels` (TOML); its base URL.
fn media_server(dir: &Path, channels: &str) -> (Killed, String) {
    let file = dir.join("channels.toml");
    std::fs::write(&file, channels).expect("channels.toml");
    let addr = dir.join("ms.addr");
    let child = Command::new(bin("media-server"))
        .arg("--library")
        .arg(library())
        .arg("--channels")
        .arg(&file)
        .args(["--listen", "127.0.0.1:0", "--addr-file"])
        .arg(&addr)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("mediaserver.log")).expect("log"))
        .stderr(Stdio::null())
        .spawn()
        .expect("media-server");
    let proc = Killed(child);
    let a = wait_until("media-server's address", LONG, || {
        std::fs::read_to_string(&addr)
            .ok()
            .filter(|s| !s.is_empty())
    });
    (proc, format!("http://{}", a.trim()))
}

/// An ICY listener: audio bytes and titles as they arrive.
struct Listener {
    body: reqwest::Response,
    decoder: Decoder,
    audio: Vec<u8>,
    titles: Vec<String>,
}

impl Listener {
    fn join(rt: &tokio::runtime::Runtime, url: &str) -> Self {
        let body = rt.block_on(async {
            reqwest::Client::new()
                .get(url)
                .header("icy-metadata", "1")
                .send()
                .await
                .expect("GET")
        });
        assert!(body.status().is_success(), "{url}: {}", body.status());
        let metaint = body
            .headers()
            .get("icy-metaint")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .and_then(std::num::NonZeroUsize::new)
            .expect("icy-metaint");
        Self {
            body,
            decoder: Decoder::body(Some(metaint)),
            audio: Vec::new(),
            titles: Vec::new(),
        }
    }

    /// Reads until `done` holds (panics after the deadline).
    fn read_until(&mut self, rt: &tokio::runtime::Runtime, done: impl Fn(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + LONG;
        while !done(self) {
            let body = &mut self.body;
            let chunk = rt
                .block_on(async { tokio::time::timeout_at(deadline, body.chunk()).await })
                .expect("the listener timed out")
                .expect("read")
                .expect("the stream ended");
            self.decoder.feed(&chunk);
            while let Some(item) = self.decoder.next().expect("valid ICY") {
                match item {
                    Item::Audio { data, .. } => self.audio.extend_from_slice(&data),
                    Item::Metadata {
                        metadata: Some(m), ..
                    } => {
                        if let Some(t) = m.stream_title
                            && self.titles.last() != Some(&t)
                        {
                            self.titles.push(t);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn a_relay_channel_follows_a_real_icecast_mount() {
    let rt = rt();
    let dir = tempfile::tempdir().expect("tempdir");
    let (_icecast, port) = icecast(dir.path());
    let track = library().join("vega-lines/night-transit/01-night-transit.mp3");
    let mut source = feed_until_live(&rt, &track, port);
    let mount = format!("http://127.0.0.1:{port}/live.mp3");
    // The title, as an Icecast source client sets it.
    let set_title = |title: &str| {
        rt.block_on(async {
            reqwest::Client::new()
                .get(format!(
                    "http://127.0.0.1:{port}/admin/metadata?mount=/live.mp3&mode=updinfo&song={}",
                    title.replace(' ', "%20")
                ))
                .basic_auth("admin", Some("hackme"))
                .send()
                .await
                .expect("admin/metadata")
                .error_for_status()
                .expect("the title is set")
        });
    };
    set_title("Vega Lines - Night Transit");

    let (_server, base) = media_server(
        dir.path(),
        &format!("[[channel]]\nname = \"relay\"\nsource = \"{mount}\"\nburst_ms = 500\n"),
    );
    let mut listener = Listener::join(&rt, &format!("{base}/live/relay"));
    listener.read_until(&rt, |l| {
        l.titles.iter().any(|t| t == "Vega Lines - Night Transit") && l.audio.len() > 64_000
    });
    // What the relay plays is the track, byte for byte: a 4 KiB run of it is in the file.
    let file = std::fs::read(&track).expect("track");
    let window = &listener.audio[32_000..36_096];
    assert!(
        file.windows(window.len()).any(|w| w == window),
        "the relayed audio is the source track's"
    );
    set_title("Relay Test - Second Title");
    listener.read_until(&rt, |l| {
        l.titles.last().map(String::as_str) == Some("Relay Test - Second Title")
    });

    // The source goes away: the listener stays connected and keeps receiving while the relay
    // reconnects; the source comes back and the relay follows it again.
    kill9(source.0.id());
    let _ = source.0.wait();
    let stats_url = format!("{base}/v1/channels/relay");
    wait_until("the relay reconnecting", LONG, || {
        get_json::<ChannelStats>(&rt, &stats_url)
            .filter(|s| s.source.state == SourceState::Reconnecting)
    });
    let before = listener.audio.len();
    listener.read_until(&rt, |l| l.audio.len() > before + 16_000);
    source = feed_until_live(&rt, &track, port);
    let back = wait_until("the relay playing again", LONG, || {
        get_json::<ChannelStats>(&rt, &stats_url)
            .filter(|s| s.source.state == SourceState::Playing && s.source.reconnects >= 1)
    });
    assert_eq!(back.listeners, 1, "{back:?}");
    drop(source);

    // ffmpeg, a real player, decodes the relay's ICY stream.
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin", "-i"])
        .arg(format!("{base}/live/relay"))
        .args(["-t", "2", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Two MediaServers with a `lounge` channel of short tracks, and `lounge-relay`, a relay of
/// another server's `lounge` found through the registry; one render, on a grid.
fn channel_grid(dir: &Path) -> (Grid, PathBuf) {
    let channels = dir.join("channels.toml");
    std::fs::write(
        &channels,
        "[[channel]]\nname = \"lounge\"\ngenre = \"Ambient\"\n\
         playlist = [\"Cloud Save\", \"Night Transit\"]\nburst_ms = 1000\n\
         [[channel]]\nname = \"lounge-relay\"\nsource = \"grid:MediaServerGroup/live/lounge\"\n",
    )
    .expect("channels.toml");
    let grid = two_nodes();
    let lib = library().display().to_string();
    let ch = channels.display().to_string();
    let render = app::indexed(app::deactivation(app::media_render(&[]), 2.0), 1);
    let server = app::media_server(&["--library", &lib, "--channels", &ch]);
    let app = App::new("Live")
        .group(SERVER_GROUP, LoadBalancing::Ordered)
        .template("MS", app::deactivation(server, 2.0))
        .instance("node1", "MS", 1)
        .instance("node2", "MS", 2)
        .server("node1", render);
    grid.deploy(&app.toml());
    for id in ["MediaServer-1", "MediaServer-2", "MediaRender-1"] {
        grid.wait_active(id, None);
    }
    (grid, channels)
}

#[test]
fn channels_on_the_grid_gridadmin_and_a_render_that_rejoins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (grid, _) = channel_grid(dir.path());
    let rt = rt();

    // gridadmin sees the channel on both replicas.
    let out = grid.admin("channel list");
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{list}");
    for server in ["MediaServer-1", "MediaServer-2"] {
        assert!(
            list.lines()
                .any(|l| l.contains(server) && l.contains("lounge")),
            "{list}"
        );
    }
    let out = grid.admin("channel show lounge");
    let show = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && show.contains("Ambient"), "{show}");
    assert!(!grid.admin("channel show nosuch").status.success());

    // A render joins the channel through media-control.
    let control = |args: &[&str]| media_control_ok(&grid, args);
    control(&["channel", "MediaRender-1", "lounge"]);
    let render = grid.locate("MediaRender-1.Adapter").remove(0);
    let server = grid.locate("MediaServerGroup").remove(0);
    let tracks: Vec<TrackInfo> = get_json(&rt, &format!("{server}/v1/tracks")).expect("tracks");
    let titles: Vec<String> = tracks
        .iter()
        .filter(|t| t.title == "Cloud Save" || t.title == "Night Transit")
        .map(|t| format!("{} - {}", t.artist, t.title))
        .collect();
    let status_url = format!("{render}/v1/status");
    let on = wait_until("the render on the channel", LONG, || {
        get_json::<RenderStatus>(&rt, &status_url).filter(|s| {
            s.state == PlayState::Playing
                && s.channel
                    .as_ref()
                    .is_some_and(|c| titles.contains(&c.title))
        })
    });
    let status = control(&["status", "MediaRender-1"]);
    assert!(status.contains("lounge"), "{status}");

    // A player on the render's /listen asking for ICY gets the channel's title: ffprobe, and
    // the grid's own decoder.
    let probe = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format_tags"])
        .arg(format!("{render}/listen"))
        .output()
        .expect("ffprobe");
    let tags = String::from_utf8_lossy(&probe.stdout);
    assert!(
        probe.status.success()
            && titles
                .iter()
                .any(|t| tags.contains(&format!("TAG:StreamTitle={t}"))),
        "{tags}{}",
        String::from_utf8_lossy(&probe.stderr)
    );
    let mut listener = Listener::join(&rt, &format!("{render}/listen"));
    listener.read_until(&rt, |l| l.titles.iter().any(|t| titles.contains(t)));

    // Its MediaServer is killed: the render rejoins the channel on the other replica.
    let from = on
        .channel
        .and_then(|c| c.server)
        .expect("the render's server");
    let pid = grid
        .server(&from.id)
        .and_then(|s| s.runtime.pid)
        .expect("a pid");
    kill9(pid);
    let after = wait_until("the render rejoined on a replica", LONG, || {
        get_json::<RenderStatus>(&rt, &status_url).filter(|s| {
            s.failovers > on.failovers
                && s.state == PlayState::Playing
                && s.channel.as_ref().is_some_and(|c| c.name == "lounge")
        })
    });
    assert!(after.channel.is_some());
    // The /listen player heard on through the failover.
    let before = listener.audio.len();
    listener.read_until(&rt, |l| l.audio.len() > before + 16_000);

    control(&["stop", "MediaRender-1"]);
    wait_until("the render left the channel", LONG, || {
        get_json::<RenderStatus>(&rt, &status_url)
            .filter(|s| s.state == PlayState::Stopped && s.channel.is_none())
    });

    // Each server relays the other's lounge (`grid:MediaServerGroup`, never itself); the one
    // whose upstream was killed found it again where its node restarted it.
    let survivor_id = if from.id == "MediaServer-1" {
        "MediaServer-2"
    } else {
        "MediaServer-1"
    };
    let survivor = grid.locate(&format!("{survivor_id}.Adapter"));
    let relay = wait_until("each server relaying the other's lounge", LONG, || {
        let servers = grid.locate("MediaServerGroup");
        if servers.len() != 2 {
            return None;
        }
        let mut out = Vec::new();
        for s in &servers {
            let c: ChannelStats = get_json(&rt, &format!("{s}/v1/channels/lounge-relay"))?;
            let other = servers.iter().find(|o| *o != s)?;
            (c.source.state == SourceState::Playing
                && c.tree.path == [format!("{other}/live/lounge")])
            .then_some(())?;
            out.push((s.clone(), c));
        }
        Some(out)
    });
    let (_, kept) = relay
        .iter()
        .find(|(s, _)| survivor.contains(s))
        .expect("the survivor's relay");
    assert!(kept.source.reconnects >= 1, "{kept:?}");
    assert_eq!(
        kept.source.upstream.as_deref(),
        Some("grid:MediaServerGroup/live/lounge")
    );
}
