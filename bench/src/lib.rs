//! The grid benchmark: starts a registry and two nodes from `--bin-dir` on free ports in a
//! temporary directory, deploys a four-server application, and prints:
//! - `kill -9` of an `always` server → `active` again (from the registry's event stream);
//! - registry and two nodes launched → all four servers active;
//! - `gridadmin -u admin -p admin -e "server list"` as a whole process;
//! - `locate` of a replica group, one request at a time and 16 in flight;
//! - RSS at rest of the registry and a node;
//! - `GET /metrics` of a registry holding 1,000 more servers: one scrape's time, the registry's
//!   CPU per scrape, and its CPU use over 30 s with a scrape every second against none.

pub mod console;
mod grid;
pub mod icysource;
pub mod listeners;
pub mod media;
mod metrics;
mod stats;
pub mod tree;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use grid_proto::api::{Event, EventKind, ServerState};
use grid_proto::media::SERVER_GROUP;
use grid_testkit::kill9;

pub use grid::Grid;
use stats::Summary;

/// Command line.
#[derive(Debug, clap::Parser)]
#[command(name = "gridbench")]
pub struct Cli {
    /// Directory holding gridregistry, gridnode, gridadmin, media-server, media-render.
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// Runs per latency figure.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
    /// Seconds per locate throughput figure.
    #[arg(long, default_value_t = 3.0)]
    pub locate_seconds: f64,
    /// Servers deployed for the `/metrics` figures.
    #[arg(long, default_value_t = 1000)]
    pub metrics_servers: usize,
    /// Seconds of each `/metrics` CPU window (at rest, and scraped every second).
    #[arg(long, default_value_t = 30)]
    pub metrics_seconds: u64,
}

/// The `main` of a benchmark binary: parses its command line, then runs `run` on `runtime`.
pub fn bin_main<C, F>(
    mut runtime: tokio::runtime::Builder,
    run: impl FnOnce(C) -> F,
) -> anyhow::Result<()>
where
    C: clap::Parser,
    F: Future<Output = anyhow::Result<()>>,
{
    let cli = C::parse();
    runtime.enable_all().build()?.block_on(run(cli))
}

/// `path` made absolute; an error naming it when it does not exist.
pub(crate) fn existing(path: &Path) -> anyhow::Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("{} not found", path.display()))
}

/// The media library at `path` made absolute; an error saying how to make it when it is not there.
pub(crate) fn media_library(path: &Path) -> anyhow::Result<PathBuf> {
    std::fs::canonicalize(path)
        .with_context(|| format!("{} not found: run scripts/make-media.sh", path.display()))
}

/// Runs every benchmark and prints the figures.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let bin_dir = existing(&cli.bin_dir)?;
    let mut grid = Grid::start(&bin_dir).await?;
    grid.deploy().await?;
    grid.wait_all_active(Duration::from_secs(30)).await?;
    println!(
        "grid up in {} (registry {}, 2 nodes, 4 servers)",
        grid.dir().display(),
        grid.url()
    );

    let restart = kill_to_active(&grid, cli.runs).await?;
    println!("kill -9 -> active again:            {}", restart.line_ms());

    let admin = gridadmin_process(&grid, cli.runs)?;
    println!("gridadmin -e \"server list\" process: {}", admin.line_ms());

    for in_flight in [1, 16] {
        let (rate, client) = match wrk_rate(&grid, in_flight, cli.locate_seconds)? {
            Some(rate) => (rate, "wrk"),
            None => (
                locate_rate(&grid, in_flight, cli.locate_seconds).await?,
                "reqwest loop; install wrk for a lighter client",
            ),
        };
        println!("locate {SERVER_GROUP}, {in_flight:>2} in flight: {rate:>9.0} /s ({client})");
    }

    // Let allocations settle before reading RSS at rest.
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "RSS at rest: registry {:.1} MB, node {:.1} MB",
        grid.registry_rss_mb(),
        grid.node_rss_mb("node1")
    );

    let startup = grid_startup(&mut grid, cli.runs).await?;
    println!(
        "registry + 2 nodes launched -> 4 active: {}",
        startup.line_ms()
    );
    metrics::run(
        &grid,
        cli.metrics_servers,
        cli.runs.max(100),
        cli.metrics_seconds.max(1),
    )
    .await?;
    grid.stop();
    Ok(())
}

async fn kill_to_active(grid: &Grid, runs: usize) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(runs);
    let resp = grid
        .http()
        .get(format!("{}/v1/events", grid.url()))
        .send()
        .await?;
    let mut events = Box::pin(sse_events(resp));
    for i in 0..runs {
        tokio::time::sleep(grid::BACKOFF_RESET + Duration::from_millis(50)).await;
        let id = if i % 2 == 0 {
            "MediaServer-1"
        } else {
            "MediaServer-2"
        };
        let pid = grid.pid_of(id).await?;
        let t0 = Instant::now();
        kill9(pid);
        // Measure the immediate-restart path: the node treats a server killed again within its
        // backoff-reset period as crash-looping and delays it on purpose.
        loop {
            let ev = tokio::time::timeout(Duration::from_secs(30), events.next())
                .await
                .context("no event within 30 s")?
                .context("event stream ended")??;
            if let EventKind::ServerState {
                server, runtime, ..
            } = ev.kind
                && server == id
                && runtime.state == ServerState::Active
                && runtime.pid.is_some_and(|p| p != pid)
            {
                samples.push(t0.elapsed());
                break;
            }
        }
    }
    Ok(Summary::of(samples))
}

/// Parses a server-sent event stream into events.
pub(crate) fn sse_events(
    resp: reqwest::Response,
) -> impl futures_util::Stream<Item = anyhow::Result<Event>> {
    let mut decoder = grid_proto::sse::SseDecoder::new();
    resp.bytes_stream().flat_map(move |chunk| {
        let mut out = Vec::new();
        match chunk {
            Ok(bytes) => {
                decoder.feed(&bytes);
                loop {
                    match decoder.next_event() {
                        Ok(Some(e)) => out.push(
                            serde_json::from_str::<Event>(&e.data).map_err(anyhow::Error::from),
                        ),
                        Ok(None) => break,
                        Err(e) => {
                            out.push(Err(e.into()));
                            break;
                        }
                    }
                }
            }
            Err(e) => out.push(Err(e.into())),
        }
        futures_util::stream::iter(out)
    })
}

fn gridadmin_process(grid: &Grid, runs: usize) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(runs);
    // One warm-up: the registry verifies the argon2 hash once, then answers repeat logins cheaply.
    for i in 0..=runs {
        let t0 = Instant::now();
        let out = grid.admin_command().args(["-e", "server list"]).output()?;
        let took = t0.elapsed();
        anyhow::ensure!(
            out.status.success(),
            "gridadmin failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if i > 0 {
            samples.push(took);
        }
    }
    Ok(Summary::of(samples))
}

/// The route whose throughput is measured: it is called raw, so the client costs little.
fn locate_url(grid: &Grid) -> String {
    let path = grid_proto::paths::fill(grid_proto::paths::LOCATE, &[SERVER_GROUP]);
    format!("{}{path}", grid.url())
}

/// Locate throughput measured by `wrk` (one thread, `in_flight` connections), if it is installed:
/// a C client leaves more of the two cores to the registry than a reqwest loop does.
fn wrk_rate(grid: &Grid, in_flight: usize, seconds: f64) -> anyhow::Result<Option<f64>> {
    let url = locate_url(grid);
    let duration = format!("{}s", seconds.ceil().max(1.0) as u64);
    let connections = in_flight.to_string();
    let Ok(out) = std::process::Command::new("wrk")
        .args(["-t1", "-c", &connections, "-d", &duration, &url])
        .output()
    else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        !text.contains("Non-2xx"),
        "locate answered errors under wrk:\n{text}"
    );
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok()))
}

async fn locate_rate(grid: &Grid, in_flight: usize, seconds: f64) -> anyhow::Result<f64> {
    let url = locate_url(grid);
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..in_flight)
        .map(|_| {
            let (url, count) = (url.clone(), count.clone());
            let http = reqwest::Client::builder().tcp_nodelay(true).build();
            tokio::spawn(async move {
                let http = http?;
                while Instant::now() < deadline {
                    let r = http.get(&url).send().await?;
                    anyhow::ensure!(r.status().is_success(), "locate answered {}", r.status());
                    let _ = r.bytes().await?;
                    count.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<_, anyhow::Error>(())
            })
        })
        .collect();
    let t0 = Instant::now();
    for t in tasks {
        t.await??;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64())
}

async fn grid_startup(grid: &mut Grid, runs: usize) -> anyhow::Result<Summary> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        grid.stop();
        let t0 = Instant::now();
        grid.launch().await?;
        grid.wait_all_active(Duration::from_secs(30)).await?;
        samples.push(t0.elapsed());
    }
    Ok(Summary::of(samples))
}
