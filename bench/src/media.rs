//! The media plane benchmark (`scripts/bench-failover.sh`), from the release binaries:
//! - the MediaServer chunk API for one client: 4096-byte chunks one request at a time, several in
//!   flight, and the streamed `/data` body with 4 KiB and 64 KiB pieces;
//! - the failover gap of a render reading as fast as it can (`--speed 0`) while the MediaServer it
//!   streams from is killed, and while every replica is killed at once (the restart path);
//! - real-time playback at the default buffer while its servers are killed: underruns, and the
//!   bytes lost or repeated (the `file:` sink against the source);
//! - RSS of an idle media-server and media-render.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use grid_proto::api::EventKind;
use grid_proto::client::Client;
use grid_proto::descriptor::LoadBalancing;
use grid_proto::media::{PlayState, RenderStatus, SERVER_GROUP, TrackInfo};
use grid_testkit::app::{self, App};
use grid_testkit::kill9;
use grid_testkit::process::rss_mb;
use sha2::{Digest, Sha256};

use crate::grid::{BACKOFF_RESET, Grid};
use crate::stats::Summary;

/// Command line of `mediabench`.
#[derive(Debug, clap::Parser)]
#[command(name = "mediabench")]
pub struct MediaCli {
    /// Directory holding the release binaries.
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// The music library (`scripts/make-media.sh` builds it).
    #[arg(long, default_value = "media")]
    pub library: PathBuf,
    /// Kills of the serving MediaServer under a render reading as fast as it can.
    #[arg(long, default_value_t = 30)]
    pub kills: usize,
    /// Kills of every replica at once.
    #[arg(long, default_value_t = 10)]
    pub all_kills: usize,
    /// Length of the real-time playback run, in seconds (the nearest track is played).
    #[arg(long, default_value_t = 60)]
    pub realtime_seconds: u64,
    /// Seconds per chunk-API throughput figure.
    #[arg(long, default_value_t = 3.0)]
    pub chunk_seconds: f64,
}

const SERVERS: [&str; 3] = ["MediaServer-1", "MediaServer-2", "MediaServer-3"];
const FAST: &str = "MediaRender-1";
const REALTIME: &str = "MediaRender-2";

/// Three MediaServers over two nodes; a render reading as fast as it can and one in real time.
fn application(library: &Path) -> String {
    let lib = library.display().to_string();
    let render = |id: &str, index: u32, args: &[&str]| {
        let mut spec = app::indexed(app::media_render(args), index);
        spec.id = id.to_owned();
        spec
    };
    App::new("FailoverBench")
        .group(SERVER_GROUP, LoadBalancing::RoundRobin)
        .template("MS", app::media_server(&["--library", &lib]))
        .instance("node1", "MS", 1)
        .instance("node2", "MS", 2)
        .instance("node1", "MS", 3)
        .server(
            "node1",
            render(FAST, 1, &["--speed", "0", "--sink", "null"]),
        )
        .server(
            "node2",
            render(REALTIME, 2, &["--sink", "file:realtime.out"]),
        )
        .toml()
}

/// Runs every media benchmark and prints the figures.
pub async fn run(cli: MediaCli) -> anyhow::Result<()> {
    let bin_dir = crate::existing(&cli.bin_dir)?;
    let library = crate::media_library(&cli.library)?;
    let http = reqwest::Client::builder().tcp_nodelay(true).build()?;

    chunk_api(&bin_dir, &library, &http, cli.chunk_seconds).await?;

    let grid = Grid::start(&bin_dir).await?;
    grid.deploy_source(&application(&library)).await?;
    grid.wait_active(5, Duration::from_secs(60)).await?;
    let bench = Bench {
        fast: locate_one(grid.url(), &format!("{FAST}.Adapter")).await?,
        realtime: locate_one(grid.url(), &format!("{REALTIME}.Adapter")).await?,
        grid,
        http,
        library,
    };
    println!(
        "grid up in {} (3 MediaServers on 2 nodes, 2 MediaRenders)",
        bench.grid.dir().display()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "RSS idle: media-server {:.1} MB, media-render {:.1} MB",
        rss_mb(bench.grid.pid_of("MediaServer-1").await?),
        rss_mb(bench.grid.pid_of(FAST).await?)
    );

    let tracks: Vec<TrackInfo> = bench
        .get(&format!(
            "{}/v1/tracks",
            locate_one(bench.grid.url(), SERVER_GROUP).await?
        ))
        .await?;
    let longest = tracks
        .iter()
        .max_by_key(|t| t.size)
        .cloned()
        .context("an empty library")?;

    // The fast render plays the longest track over and over.
    bench
        .command(&bench.fast, "load", Some(&longest.id))
        .await?;
    for _ in 0..200 {
        bench.queue_add(&bench.fast, &longest.id).await?;
    }
    bench.command(&bench.fast, "play", None).await?;

    for (all, kills, what) in [
        (false, cli.kills, "serving MediaServer killed"),
        (true, cli.all_kills, "every replica killed at once"),
    ] {
        let (gaps, seen, missed) = bench.kill_runs(kills, all).await?;
        println!("{what} ({kills} kills, {missed} landed between tracks):");
        println!(
            "  failover gap (render waiting for bytes): {}",
            gaps.line_ms()
        );
        println!(
            "  kill -> failover seen by a status poll:  {}",
            seen.line_ms()
        );
    }
    bench.command(&bench.fast, "stop", None).await?;

    let (track, status, lost, kills) = bench.realtime(&tracks, cli.realtime_seconds).await?;
    println!(
        "real-time playback of {:.0} s ({}, {} kbit/s), {kills} kills incl. one of every replica: \
         {} underruns, {} failovers, {lost} bytes lost or repeated",
        track.duration_ms as f64 / 1000.0,
        track.title,
        track.bitrate_kbps,
        status.1,
        status.0.failovers
    );
    println!(
        "RSS after the runs: media-server {:.1} MB, media-render {:.1} MB",
        rss_mb(bench.grid.pid_of("MediaServer-1").await?),
        rss_mb(bench.grid.pid_of(REALTIME).await?)
    );
    Ok(())
}

async fn locate_one(registry: &str, id: &str) -> anyhow::Result<String> {
    let r = Client::new(registry, "registry")?.locate(id).await?;
    r.endpoints
        .into_iter()
        .next()
        .map(|e| e.endpoint)
        .with_context(|| format!("{id} has no live endpoint"))
}

struct Bench {
    grid: Grid,
    http: reqwest::Client,
    library: PathBuf,
    fast: String,
    realtime: String,
}

impl Bench {
    async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> anyhow::Result<T> {
        Ok(self
            .http
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// The status, and the underrun count.
    async fn status(&self, render: &str) -> anyhow::Result<(RenderStatus, u64)> {
        let v: serde_json::Value = self.get(&format!("{render}/v1/status")).await?;
        let underruns = v["underruns"].as_u64().unwrap_or(0);
        Ok((serde_json::from_value(v)?, underruns))
    }

    async fn wait_status(
        &self,
        render: &str,
        timeout: Duration,
        pred: impl Fn(&RenderStatus) -> bool,
    ) -> anyhow::Result<Option<RenderStatus>> {
        let deadline = Instant::now() + timeout;
        loop {
            let (s, _) = self.status(render).await?;
            if pred(&s) {
                return Ok(Some(s));
            }
            if Instant::now() > deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    async fn command(&self, render: &str, what: &str, track: Option<&str>) -> anyhow::Result<()> {
        let body = match track {
            Some(id) => serde_json::json!({ "track_id": id }),
            None => serde_json::json!({}),
        };
        let r = self
            .http
            .post(format!("{render}/v1/{what}"))
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "{what}: {}",
            r.text().await.unwrap_or_default()
        );
        Ok(())
    }

    async fn queue_add(&self, render: &str, track: &str) -> anyhow::Result<()> {
        let r = self
            .http
            .post(format!("{render}/v1/queue"))
            .json(&serde_json::json!({ "track_id": track }))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "queue add: {}", r.status());
        Ok(())
    }

    /// Waits until the render streams, then kills the MediaServer it streams from (or every
    /// replica) and waits for the failover: its gap, and the time from the kill until a status
    /// poll showed it; `None` when the kill landed between two tracks (no failover to measure).
    async fn kill_under(&self, render: &str, all: bool) -> anyhow::Result<Option<(f64, Duration)>> {
        let s = self
            .wait_status(render, Duration::from_secs(20), |s| {
                s.state == PlayState::Playing && s.server.is_some() && s.bytes_received > 0
            })
            .await?
            .context("the render is not streaming")?;
        let mut pids = Vec::new();
        if all {
            for id in SERVERS {
                pids.push(self.grid.pid_of(id).await?);
            }
        } else {
            let server = s.server.as_ref().context("a server")?;
            pids.push(self.grid.pid_of(&server.id).await?);
        }
        let killed = Instant::now();
        for pid in pids {
            kill9(pid);
        }
        let after = self
            .wait_status(render, Duration::from_secs(10), |n| {
                n.failovers > s.failovers
                    || n.track.as_ref().map(|t| &t.id) != s.track.as_ref().map(|t| &t.id)
            })
            .await?;
        let seen = killed.elapsed();
        Ok(after
            .filter(|a| a.failovers > s.failovers)
            .and_then(|a| a.last_failover)
            .map(|f| (f.gap_ms, seen)))
    }

    async fn settle(&self) -> anyhow::Result<()> {
        self.grid.wait_active(5, Duration::from_secs(60)).await?;
        // Up for the backoff-reset period, a killed server restarts at once.
        tokio::time::sleep(BACKOFF_RESET + Duration::from_millis(50)).await;
        Ok(())
    }

    /// `kills` kills (of the serving replica, or of every replica): the render's gaps, the
    /// times from the kill until a status poll showed the failover, and the kills that landed
    /// between two tracks.
    async fn kill_runs(
        &self,
        kills: usize,
        all: bool,
    ) -> anyhow::Result<(Summary, Summary, usize)> {
        let mut gaps = Vec::new();
        let mut seen = Vec::new();
        let mut missed = 0;
        for _ in 0..kills {
            self.settle().await?;
            match self.kill_under(&self.fast, all).await? {
                Some((gap, after)) => {
                    seen.push(after);
                    gaps.push(Duration::from_secs_f64(gap / 1000.0));
                }
                None => missed += 1,
            }
        }
        Ok((Summary::of(gaps), Summary::of(seen), missed))
    }

    /// Real-time playback of the track nearest `seconds` long on the file render, killing its
    /// server every eighth of the track and every replica once half-way.
    async fn realtime(
        &self,
        tracks: &[TrackInfo],
        seconds: u64,
    ) -> anyhow::Result<(TrackInfo, (RenderStatus, u64), u64, usize)> {
        let track = tracks
            .iter()
            .min_by_key(|t| t.duration_ms.abs_diff(seconds * 1000))
            .cloned()
            .context("an empty library")?;
        let events = self
            .http
            .get(format!("{}/v1/events", self.grid.url()))
            .send()
            .await?;
        let mut events = Box::pin(crate::sse_events(events));
        self.settle().await?;
        self.command(&self.realtime, "load", Some(&track.id))
            .await?;
        self.command(&self.realtime, "play", None).await?;
        let every = Duration::from_millis(track.duration_ms / 8);
        let mut kills = 0;
        let t0 = Instant::now();
        let last_kill =
            Duration::from_millis(track.duration_ms).saturating_sub(Duration::from_secs(3));
        for i in 1..8 {
            let at = t0 + every * i;
            tokio::time::sleep_until(at.into()).await;
            self.settle().await?;
            if t0.elapsed() > last_kill {
                break;
            }
            if self.kill_under(&self.realtime, i == 4).await?.is_some() {
                kills += 1;
            }
        }
        loop {
            let ev =
                tokio::time::timeout(Duration::from_millis(track.duration_ms) * 2, events.next())
                    .await
                    .context("no track_exhausted")?
                    .context("event stream ended")??;
            if let EventKind::Server { server, payload } = ev.kind
                && server == REALTIME
                && payload["event"] == "track_exhausted"
            {
                break;
            }
        }
        let status = self.status(&self.realtime).await?;
        let played = std::fs::read(self.grid.dir().join("realtime.out"))?;
        let source = std::fs::read(self.library.join(&track.file))?;
        Ok((track, status, differing_bytes(&played, &source), kills))
    }
}

/// Bytes lost or repeated: 0 when equal; otherwise everything from the first difference on, or
/// the length difference, whichever is larger.
fn differing_bytes(played: &[u8], source: &[u8]) -> u64 {
    if Sha256::digest(played) == Sha256::digest(source) {
        return 0;
    }
    let common = played
        .iter()
        .zip(source)
        .take_while(|(a, b)| a == b)
        .count();
    (played.len().max(source.len()) - common) as u64
}

/// A standalone media-server (no grid), killed on drop.
struct Standalone(Child);

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One client against one MediaServer: one chunk at a time, chunks in flight, the `/data`
/// body.
async fn chunk_api(
    bin_dir: &Path,
    library: &Path,
    http: &reqwest::Client,
    seconds: f64,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let addr_file = dir.path().join("addr");
    let server = Standalone(
        Command::new(bin_dir.join("media-server"))
            .arg("--library")
            .arg(library)
            .args(["--listen", "127.0.0.1:0", "--addr-file"])
            .arg(&addr_file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting media-server")?,
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let addr = loop {
        if let Ok(a) = std::fs::read_to_string(&addr_file)
            && !a.trim().is_empty()
        {
            break a.trim().to_owned();
        }
        anyhow::ensure!(Instant::now() < deadline, "media-server did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let base = format!("http://{addr}");
    let tracks: Vec<TrackInfo> = http
        .get(format!("{base}/v1/tracks"))
        .send()
        .await?
        .json()
        .await?;
    let track = tracks
        .iter()
        .max_by_key(|t| t.size)
        .context("an empty library")?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!(
        "RSS idle, standalone media-server with {} tracks: {:.1} MB",
        tracks.len(),
        rss_mb(server.0.id())
    );
    let open = |offset: u64| {
        http.post(format!("{base}/v1/streams"))
            .json(
                &serde_json::json!({"track_id": track.id, "render_id": "bench", "offset": offset}),
            )
            .send()
    };

    // One 4096-byte chunk at a time, the offset carried by the server.
    open(0).await?.error_for_status()?;
    let chunk_url = format!("{base}/v1/streams/bench/chunk?size=4096");
    let (mut chunks, t0) = (0u64, Instant::now());
    let end = t0 + Duration::from_secs_f64(seconds);
    while Instant::now() < end {
        let body = http
            .get(&chunk_url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        if body.is_empty() {
            open(0).await?.error_for_status()?;
        } else {
            chunks += 1;
        }
    }
    let rate = chunks as f64 / t0.elapsed().as_secs_f64();
    println!(
        "chunk API, 4096 B, 1 in flight:  {rate:>8.0} chunks/s ({:6.1} MiB/s)",
        rate * 4096.0 / 1048576.0
    );

    // Several in flight, each at an explicit offset.
    for in_flight in [8usize] {
        let (mut bytes, t0) = (0u64, Instant::now());
        let end = t0 + Duration::from_secs_f64(seconds);
        let mut offset = 0u64;
        while Instant::now() < end {
            let batch: Vec<_> = (0..in_flight as u64)
                .map(|i| {
                    let at = (offset + i * 4096) % track.size;
                    http.get(format!(
                        "{base}/v1/streams/bench/chunk?size=4096&offset={at}"
                    ))
                    .send()
                })
                .collect();
            for r in futures_util::future::join_all(batch).await {
                bytes += r?.error_for_status()?.bytes().await?.len() as u64;
            }
            offset += in_flight as u64 * 4096;
        }
        let rate = bytes as f64 / t0.elapsed().as_secs_f64();
        println!(
            "chunk API, 4096 B, {in_flight} in flight:  {:>8.0} chunks/s ({:6.1} MiB/s)",
            rate / 4096.0,
            rate / 1048576.0
        );
    }

    // The streamed body, as a render reads while playing.
    for size in [4096u64, 65536] {
        let (mut bytes, t0) = (0u64, Instant::now());
        let end = t0 + Duration::from_secs_f64(seconds);
        while Instant::now() < end {
            open(0).await?.error_for_status()?;
            let mut body = http
                .get(format!("{base}/v1/streams/bench/data?offset=0&size={size}"))
                .send()
                .await?
                .error_for_status()?
                .bytes_stream();
            while let Some(piece) = body.next().await {
                bytes += piece?.len() as u64;
            }
        }
        println!(
            "/data stream, {:>5} B pieces:     {:8.1} MiB/s",
            size,
            bytes as f64 / t0.elapsed().as_secs_f64() / 1048576.0
        );
    }
    Ok(())
}
