//! The web console under a large grid: a registry holding `servers` servers over `nodes`
//! simulated nodes (they register, heartbeat and report server states with the cluster secret
//! as real nodes do, and run nothing), and a headless chromium on its servers page. Prints:
//! - the servers page's first load: DOMContentLoaded, and the snapshot's 1,000 rows in the DOM
//!   (the page's `grid:snapshot` mark);
//! - an event reaching the DOM at `rate` events per second, over the first `latency_seconds`:
//!   from the simulated node's `server-state` POST to the row's new pid seen by a
//!   MutationObserver in the page, both on this machine's clock;
//! - the page's JS heap after a garbage collection, each minute of `minutes` at that rate, and
//!   the page's main-thread tasks over 50 ms.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use grid_proto::api::{
    Heartbeat, HeartbeatReply, HostInfo, Load, NodeRegister, NodeRegistered, ServerRuntime,
    ServerState,
};
use grid_proto::client::Client;
use grid_proto::paths;
use grid_testkit::browser::Browser;
use grid_testkit::grid::Options;
use serde_json::Value;

/// Command line.
#[derive(Debug, clap::Parser)]
#[command(name = "consolebench")]
pub struct Cli {
    /// Directory holding gridregistry.
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// Simulated nodes.
    #[arg(long, default_value_t = 50)]
    pub nodes: usize,
    /// Servers, spread evenly over the nodes.
    #[arg(long, default_value_t = 1000)]
    pub servers: usize,
    /// Fresh loads of the servers page.
    #[arg(long, default_value_t = 10)]
    pub loads: usize,
    /// Server-state events per second.
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// Minutes of events in all: the heap is read each minute.
    #[arg(long, default_value_t = 10.0)]
    pub minutes: f64,
    /// The console view on screen while the heap is read (`servers`, `overview`, ...).
    #[arg(long, default_value = "servers")]
    pub soak_view: String,
    /// Seconds at the start of them whose latency is measured.
    #[arg(long, default_value_t = 60.0)]
    pub latency_seconds: f64,
}

const HEARTBEAT_MS: u64 = 1000;

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or_default()
}

fn node_of(server: usize, nodes: usize) -> String {
    format!("node{}", server % nodes + 1)
}

/// `servers` servers that the simulated nodes "run", placed round the nodes.
fn descriptor(servers: usize, nodes: usize) -> String {
    let mut d = String::from(
        "name = \"ConsoleLoad\"\n\
         [templates.Load]\nparameters = [\"index\"]\n\
         [templates.Load.server]\nid = \"Load-${index}\"\nexe = \"true\"\n\
         adapters = [{ name = \"Adapter\" }]\n",
    );
    for i in 0..servers {
        d.push_str(&format!(
            "[[nodes.{}.server-instances]]\ntemplate = \"Load\"\nparameters = {{ index = \"{i}\" }}\n",
            node_of(i, nodes)
        ));
    }
    d
}

fn runtime(server: usize, pid: u32) -> ServerRuntime {
    ServerRuntime {
        id: format!("Load-{server}"),
        state: ServerState::Active,
        pid: Some(pid),
        started_ms: Some(now_ms() as u64),
        ..ServerRuntime::default()
    }
}

/// The simulated nodes: registered with their servers active, then heartbeating until `stop`.
async fn simulate_nodes(
    node: &Client,
    cli: &Cli,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let mut serials = HashMap::new();
    for n in 0..cli.nodes {
        let name = format!("node{}", n + 1);
        let servers = (0..cli.servers)
            .filter(|s| s % cli.nodes == n)
            .map(|s| runtime(s, 1))
            .collect();
        let body = NodeRegister {
            // Nothing listens there: the registry's pushes fail and the heartbeats carry the set.
            endpoint: "http://127.0.0.1:9".into(),
            address: "127.0.0.1".into(),
            host: HostInfo {
                hostname: format!("sim{}", n + 1),
                os: "Linux".into(),
                kernel: "simulated".into(),
                arch: std::env::consts::ARCH.into(),
                cpus: 8,
            },
            load: Load::default(),
            servers,
        };
        let reply: NodeRegistered = node
            .post(&paths::fill(paths::NODE_REGISTER, &[&name]), &body)
            .await
            .with_context(|| format!("registering {name}"))?;
        serials.insert(name, reply.assignment.serial);
    }
    let node = node.clone();
    Ok(tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(HEARTBEAT_MS)).await;
            for (name, serial) in serials.iter_mut() {
                let hb = Heartbeat {
                    load: Load::default(),
                    assignment_serial: *serial,
                };
                let path = paths::fill(paths::NODE_HEARTBEAT, &[name]);
                if let Ok(r) = node.post::<_, HeartbeatReply>(&path, &hb).await
                    && let Some(a) = r.assignment
                {
                    *serial = a.serial;
                }
            }
        }
    }))
}

/// Posts `rate` server-state changes a second until `stop`, each with a new pid; the time each
/// pid was sent goes into `sent`.
async fn pump(
    node: Client,
    cli_rate: u32,
    servers: usize,
    nodes: usize,
    sent: Arc<Mutex<HashMap<u32, f64>>>,
    stop: Arc<AtomicBool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1) / cli_rate);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut k: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        let server = k as usize % servers;
        let pid = 100_000 + k;
        k += 1;
        let path = paths::fill(paths::NODE_SERVER_STATE, &[&node_of(server, nodes)]);
        let node = node.clone();
        let sent = sent.clone();
        tokio::spawn(async move {
            if let Ok(mut s) = sent.lock() {
                s.insert(pid, now_ms());
            }
            let _: Result<Value, _> = node.post(&path, &runtime(server, pid)).await;
        });
    }
}

/// Installed in the page: each server row replaced notes its pid and the time.
const OBSERVE: &str = "window.__seen = []; \
    window.__observer = new MutationObserver((ms) => { const t = Date.now(); for (const m of ms) for (const n of m.addedNodes) { \
    const c = n.querySelector && n.querySelector('[data-field=pid]'); if (c) window.__seen.push([Number(c.textContent), t]); } }) \
    .observe(document.querySelector('#servers .body'), { childList: true }); \
    window.__long = [0, 0, 0]; new PerformanceObserver((l) => { for (const e of l.getEntries()) { \
    __long[0]++; __long[1] += e.duration; __long[2] = Math.max(__long[2], e.duration); } }).observe({ entryTypes: ['longtask'] }); \
    return 1;";

const DRAIN: &str = "const s = window.__seen; window.__seen = []; return s;";

/// The observer goes before the soak: the results read back through WebDriver are held by the
/// page (its heap grew about 75 bytes per event read while it was on).
const UNOBSERVE: &str = "window.__observer.disconnect(); window.__seen = []; return 1;";

const HEAP: &str = "if (window.gc) gc(); return performance.memory.usedJSHeapSize;";

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn line(what: &str, mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "{what}: median {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
        quantile(&v, 0.5),
        quantile(&v, 0.99),
        v.last().copied().unwrap_or(f64::NAN),
        v.len()
    )
}

/// Takes the pids the page saw into `latencies`: seen − sent, in ms.
fn read_latencies(
    browser: &Browser,
    sent: &Mutex<HashMap<u32, f64>>,
    latencies: &mut Vec<f64>,
) -> anyhow::Result<()> {
    let seen = browser.run(DRAIN);
    let sent = sent
        .lock()
        .map_err(|_| anyhow::anyhow!("a pump task panicked"))?;
    for pair in seen.as_array().into_iter().flatten() {
        if let (Some(pid), Some(t)) = (pair[0].as_u64(), pair[1].as_f64())
            && let Some(at) = sent.get(&(pid as u32))
        {
            latencies.push(t - at);
        }
    }
    Ok(())
}

/// The benchmark.
pub fn main(cli: Cli) -> anyhow::Result<()> {
    let grid = grid_testkit::Grid::with(Options {
        bin_dir: crate::existing(&cli.bin_dir)?,
        registry_args: [
            "--heartbeat-ms".to_owned(),
            HEARTBEAT_MS.to_string(),
            "--node-timeout-ms".to_owned(),
            (HEARTBEAT_MS * 10).to_string(),
        ]
        .into(),
        ..Options::default()
    });
    let secret = std::fs::read_to_string(grid.dir().join("registry_data/cluster.secret"))
        .context("reading the cluster secret")?;
    let rt = tokio::runtime::Runtime::new()?;
    let node = Client::new(grid.url(), "registry")?.secret(secret.trim())?;
    grid.deploy(&descriptor(cli.servers, cli.nodes));
    let stop = Arc::new(AtomicBool::new(false));
    let heartbeats = rt.block_on(simulate_nodes(&node, &cli, stop.clone()))?;
    println!(
        "registry with {} servers over {} simulated nodes",
        cli.servers, cli.nodes
    );

    let browser = Browser::start_with(&["--enable-precise-memory-info", "--js-flags=--expose-gc"])
        .context(
            "chromium and chromium-driver are needed: apt-get install chromium chromium-driver",
        )?;
    browser.goto(&format!("{}/", grid.url()));
    browser.log_in("admin");
    browser.wait(
        "the console",
        "return document.getElementById('servers') !== null;",
    );

    // First loads of the servers page, each a fresh navigation.
    let (mut dcl, mut rows) = (Vec::new(), Vec::new());
    for load in 0..cli.loads {
        // A new query each time: a fresh document, not a jump within the same one.
        browser.goto(&format!("{}/?load={load}#servers", grid.url()));
        let v = browser.wait(
            "the snapshot in the DOM",
            "const m = performance.getEntriesByName('grid:snapshot')[0]; const n = performance.getEntriesByType('navigation')[0]; \
             return m && n ? [n.domContentLoadedEventEnd, m.startTime, document.querySelectorAll('#servers .body .row').length] : null;",
        );
        dcl.push(v[0].as_f64().unwrap_or(f64::NAN));
        rows.push(v[1].as_f64().unwrap_or(f64::NAN));
        anyhow::ensure!(
            v[2].as_u64() == Some(cli.servers as u64),
            "the page shows {} rows, not {}",
            v[2],
            cli.servers
        );
    }
    println!("{}", line("servers page, DOMContentLoaded", dcl));
    println!("{}", line("servers page, snapshot's rows in the DOM", rows));

    // Events at `rate` a second: the latency at first, the heap each minute.
    browser.run(OBSERVE);
    let heap0 = browser.run(HEAP).as_f64().unwrap_or_default() / 1e6;
    println!("JS heap before the events: {heap0:.1} MB");
    let sent = Arc::new(Mutex::new(HashMap::new()));
    let pumping = rt.spawn(pump(
        node.clone(),
        cli.rate,
        cli.servers,
        cli.nodes,
        sent.clone(),
        stop.clone(),
    ));
    let started = Instant::now();
    let total = Duration::from_secs_f64(cli.minutes * 60.0);
    let mut latencies = Vec::new();
    let mut minute = 1;
    let observed = Duration::from_secs_f64(cli.latency_seconds).min(total);
    let mut observing = true;
    while started.elapsed() < total {
        std::thread::sleep(Duration::from_millis(500).min(total - started.elapsed().min(total)));
        if observing {
            read_latencies(&browser, &sent, &mut latencies)?;
            if started.elapsed() >= observed {
                browser.run(UNOBSERVE);
                browser.show(&cli.soak_view);
                observing = false;
                println!(
                    "{}",
                    line(
                        &format!(
                            "event to DOM at {} events/s, first {:.0} s",
                            cli.rate,
                            observed.as_secs_f64()
                        ),
                        std::mem::take(&mut latencies)
                    )
                );
            }
        }
        if started.elapsed() >= Duration::from_secs(60 * minute) {
            let heap = browser.run(HEAP).as_f64().unwrap_or_default() / 1e6;
            println!("after {minute} min of events: JS heap {heap:.1} MB");
            minute += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    rt.block_on(async {
        let _ = pumping.await;
        let _ = heartbeats.await;
    });
    let long = browser.run("return window.__long;");
    let sent = sent.lock().map(|s| s.len()).unwrap_or_default();
    let heap = browser.run(HEAP).as_f64().unwrap_or_default() / 1e6;
    println!("{sent} events sent in all");
    println!(
        "tasks over 50 ms on the page's main thread: {} ({:.0} ms in all, the longest {:.0} ms)",
        long[0],
        long[1].as_f64().unwrap_or_default(),
        long[2].as_f64().unwrap_or_default()
    );
    println!(
        "JS heap after {:.1} min of events: {heap:.1} MB",
        cli.minutes
    );
    Ok(())
}
