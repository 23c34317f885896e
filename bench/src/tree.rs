//! `treebench`: Casty's distribution tree (`docs/live.md`), from the release binaries
//! (`scripts/bench-tree.sh`). A root media-server plays a channel; N relay media-servers relay it
//! from the root and form a tree of `max_children` (2) children per node. Printed:
//! - tree formation: spawning the first relay → every relay playing, listed by exactly its
//!   parent, nobody over `max_children`; the depth of each relay; the root's redirects;
//! - the latency each hop adds along a chain from the root down to a deepest relay;
//! - healing, K times: a depth-1 relay with children is SIGKILLed; the time until every orphan
//!   plays again under another parent (polled every 5 ms); the largest gap between the reads of a
//!   plain listener on an orphan over [kill, heal + 1 s], the rate it received, and whether it
//!   stayed connected; the orphans' reconnections. A replacement relay then joins, and the tree
//!   is whole again before the next kill. Then the shape, and the relays whose path is stale (not
//!   their parent's path plus the parent: a relay learns its path only when it connects, so a
//!   moved subtree keeps, and hands down, the path it had);
//! - RSS of the root and of a relay.
//!
//! Nothing is asserted but that the run completes. Every process is killed by pid on every exit
//! path; the temporary directory (channels files, one log per process) is shown only on failure.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use grid_proto::live::{ChannelStats, SourceState};
use grid_testkit::process::rss_mb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::listeners::run_latency;
use crate::stats::Summary;

/// Command line of `treebench`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "treebench",
    about = "Live channels' distribution tree: formation, per-hop latency, healing after kills"
)]
pub struct TreeCli {
    /// Directory holding media-server.
    #[arg(long, default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// The music library (`scripts/make-media.sh` builds it).
    #[arg(long, default_value = "media")]
    pub library: PathBuf,
    /// Relay servers under the root (14: a full binary tree three deep).
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u64).range(1..=512))]
    pub relays: u64,
    /// Kills of a depth-1 relay (each followed by a replacement).
    #[arg(long, default_value_t = 10)]
    pub kills: usize,
    /// Length of the latency recording along the deepest chain, in seconds.
    #[arg(long, default_value_t = 15.0)]
    pub latency_seconds: f64,
}

/// The channel every server carries.
const CHANNEL: &str = "bench";
/// Stats polls while waiting for the tree to form (every server each time).
const POLL: Duration = Duration::from_millis(10);
/// Stats polls of the orphans after a kill.
const HEAL_POLL: Duration = Duration::from_millis(5);
/// The listener on an orphan keeps reading this long after the heal.
const AFTER_HEAL: Duration = Duration::from_secs(1);
/// The listener's baseline: its largest read gap over this long before the kill.
const BEFORE_KILL: Duration = Duration::from_secs(1);
/// A relay session at least this long ends in an immediate rejoin; a shorter one waits the
/// relay's backoff (100 ms at first) before it (media-server's `HEALTHY_SESSION`).
const HEALTHY_SESSION: Duration = Duration::from_secs(1);

/// One copy of the channel as the tree check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Root first, ends with the parent (empty for the root).
    pub path: Vec<String>,
    /// Relay children, by URL.
    pub children: Vec<String>,
    /// The source's state.
    pub state: SourceState,
}

impl Node {
    /// The tree's view of a channel's stats.
    pub fn of(stats: &ChannelStats) -> Self {
        Node {
            path: stats.tree.path.clone(),
            children: stats.tree.children.clone(),
            state: stats.source.state,
        }
    }
}

/// A consistent tree's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Every copy's depth, counted along the parents (the root is 0).
    pub depth: BTreeMap<String, usize>,
    /// Relays whose path is not their parent's path plus the parent (learnt at an earlier
    /// connection, before an upstream moved). Not an inconsistency of the links themselves.
    pub stale_paths: Vec<String>,
}

impl Shape {
    /// How many copies at each depth ≥ 1.
    pub fn histogram(&self) -> BTreeMap<usize, usize> {
        let mut h = BTreeMap::new();
        for &d in self.depth.values().filter(|&&d| d > 0) {
            *h.entry(d).or_default() += 1;
        }
        h
    }
}

/// Whether `nodes` (every copy, keyed by URL) form one tree under `root`: every relay plays,
/// has a path from the root, is listed as a child by its parent (the path's last URL) and by no
/// one else, every listed child is a known copy, and nobody has more than `max_children`. The
/// shape when it does, else the first problem found.
pub fn check_tree(
    root: &str,
    max_children: usize,
    nodes: &BTreeMap<String, Node>,
) -> Result<Shape, String> {
    if !nodes.contains_key(root) {
        return Err(format!("the root {root} is missing"));
    }
    let mut listed_by: HashMap<&str, Vec<&str>> = HashMap::new();
    for (url, n) in nodes {
        if n.children.len() > max_children {
            return Err(format!(
                "{url} has {} children (max {max_children})",
                n.children.len()
            ));
        }
        for child in &n.children {
            if !nodes.contains_key(child) {
                return Err(format!("{url} lists a child that is gone: {child}"));
            }
            listed_by.entry(child).or_default().push(url);
        }
    }
    if let Some(by) = listed_by.get(root) {
        return Err(format!(
            "the root is listed as a child by {}",
            by.join(", ")
        ));
    }
    for (url, n) in nodes.iter().filter(|(u, _)| *u != root) {
        if n.state != SourceState::Playing {
            return Err(format!("{url} is {:?}", n.state));
        }
        let Some(parent) = n.path.last() else {
            return Err(format!("{url} has an empty path"));
        };
        if n.path[0] != root {
            return Err(format!(
                "{url}'s path starts at {}, not the root",
                n.path[0]
            ));
        }
        match listed_by.get(url.as_str()).map(Vec::as_slice) {
            None | Some([]) => return Err(format!("{url} is listed by no one (parent {parent})")),
            Some([by]) if *by == parent => {}
            Some([by]) => {
                return Err(format!("{url} is listed by {by}, not its parent {parent}"));
            }
            Some(by) => return Err(format!("{url} is listed by {}", by.join(", "))),
        }
    }
    // Depths along the parents; a cycle would never reach the root.
    let mut depth = BTreeMap::new();
    let mut stale_paths = Vec::new();
    for url in nodes.keys() {
        let (mut at, mut d) = (url.as_str(), 0);
        while at != root {
            at = nodes[at].path.last().map_or(root, String::as_str);
            d += 1;
            if d > nodes.len() {
                return Err(format!("{url} hangs under a cycle, not the root"));
            }
        }
        depth.insert(url.clone(), d);
        let n = &nodes[url];
        if let Some(parent) = n.path.last() {
            let mut expected = nodes[parent].path.clone();
            expected.push(parent.clone());
            if n.path != expected {
                stale_paths.push(url.clone());
            }
        }
    }
    Ok(Shape { depth, stale_paths })
}

/// A media-server of the bench, SIGKILLed by pid and reaped on drop.
struct Server {
    child: Child,
    name: String,
    log: PathBuf,
    addr_file: PathBuf,
    /// `http://ADDR/live/bench`, once known.
    url: String,
    addr: String,
}

impl Server {
    fn spawn(
        bin: &Path,
        library: &Path,
        channels: &Path,
        dir: &Path,
        name: &str,
    ) -> anyhow::Result<Self> {
        let log = dir.join(format!("{name}.log"));
        let addr_file = dir.join(format!("{name}.addr"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(bin)
            .arg("--library")
            .arg(library)
            .arg("--channels")
            .arg(channels)
            .args(["--listen", "127.0.0.1:0", "--addr-file"])
            .arg(&addr_file)
            .env_remove("GRID_REGISTRY_URL")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Server {
            child,
            name: name.to_owned(),
            log,
            addr_file,
            url: String::new(),
            addr: String::new(),
        })
    }

    /// Waits for the bound address.
    async fn wait_addr(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(a) = std::fs::read_to_string(&self.addr_file)
                && !a.trim().is_empty()
            {
                self.addr = a.trim().to_owned();
                self.url = format!("http://{}/live/{CHANNEL}", self.addr);
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                anyhow::bail!(
                    "{} exited ({status}) before listening: {}",
                    self.name,
                    self.log_tail()
                );
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} wrote no address within {} s",
                self.name,
                timeout.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL by pid, then reaps it.
    fn kill9(&mut self) -> anyhow::Result<()> {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.pid())?);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL)
            .with_context(|| format!("kill -9 {} ({})", self.pid(), self.name))?;
        self.child.wait()?;
        Ok(())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(5)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A plain (ICY-less) listener reading continuously; the time and size of every read are kept.
struct PlainListener {
    reads: Arc<Mutex<Vec<(Instant, usize)>>>,
    /// Why and when it stopped, if it did.
    ended: Arc<Mutex<Option<(Instant, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PlainListener {
    async fn start(addr: &str) -> anyhow::Result<Self> {
        let mut socket = TcpStream::connect(addr)
            .await
            .with_context(|| format!("listener connecting to {addr}"))?;
        socket.set_nodelay(true)?;
        socket
            .write_all(format!("GET /live/{CHANNEL} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await?;
        let reads = Arc::new(Mutex::new(Vec::with_capacity(1024)));
        let ended = Arc::new(Mutex::new(None));
        let task = tokio::spawn({
            let (reads, ended) = (Arc::clone(&reads), Arc::clone(&ended));
            async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut first = true;
                let why = loop {
                    match socket.read(&mut buf).await {
                        Ok(0) => break "closed by the server".to_owned(),
                        Ok(n) => {
                            if first && !buf[..n].starts_with(b"HTTP/1.1 200") {
                                let head = String::from_utf8_lossy(&buf[..n.min(40)]).into_owned();
                                break format!("answered {head:?}");
                            }
                            first = false;
                            lock(&reads).push((Instant::now(), n));
                        }
                        Err(e) => break e.to_string(),
                    }
                };
                *lock(&ended) = Some((Instant::now(), why));
            }
        });
        Ok(PlainListener { reads, ended, task })
    }

    /// Waits until it has been reading for `settle`.
    async fn wait_streaming(&self, settle: Duration, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((_, why)) = lock(&self.ended).clone() {
                anyhow::bail!("the listener stopped before the kill: {why}");
            }
            let first = lock(&self.reads).first().copied();
            if first.is_some_and(|(f, _)| f.elapsed() >= settle) {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "the listener received nothing");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Over `[from, to]`: the largest gap between reads, the bytes received as kbit/s, and
    /// whether it was still connected at `to`.
    fn window(&self, from: Instant, to: Instant) -> (Duration, f64, bool) {
        let connected = lock(&self.ended).as_ref().is_none_or(|(at, _)| *at > to);
        let reads = lock(&self.reads);
        let times: Vec<Instant> = reads.iter().map(|(t, _)| *t).collect();
        let bytes: usize = reads
            .iter()
            .filter(|(t, _)| *t > from && *t <= to)
            .map(|(_, n)| n)
            .sum();
        let kbps = bytes as f64 * 8.0 / 1000.0 / (to - from).as_secs_f64();
        (largest_gap(&times, from, to), kbps, connected)
    }
}

impl Drop for PlainListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The largest interval between two consecutive reads that overlaps `[from, to]` (a gap begun
/// before `from` counts whole: that is what the listener heard), and the silence from the last
/// read to `to` if nothing came after it.
pub fn largest_gap(reads: &[Instant], from: Instant, to: Instant) -> Duration {
    let mut gap = reads
        .windows(2)
        .filter(|w| w[1] > from && w[0] < to)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    match reads.last() {
        Some(&last) if last < to => gap = gap.max(to - last.max(from)),
        None => gap = to - from,
        Some(_) => {}
    }
    gap
}

/// Runs the tree benchmark in a temporary directory, killing everything on any exit (an error,
/// SIGINT, SIGTERM); on failure the directory with the logs is kept and shown.
pub async fn main(cli: TreeCli) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new().prefix("treebench.").tempdir()?;
    let outcome = {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = run(&cli, dir.path()) => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            _ = term.recv() => Err(anyhow::anyhow!("terminated")),
        }
    };
    if outcome.is_err() {
        let kept = dir.keep();
        eprintln!(
            "treebench: logs and channels files kept in {}",
            kept.display()
        );
    }
    outcome
}

struct Bench {
    http: reqwest::Client,
    bin: PathBuf,
    library: PathBuf,
    dir: PathBuf,
    relay_file: PathBuf,
    root: Server,
    relays: Vec<Server>,
    max_children: usize,
    spawned: usize,
    /// When each relay was last seen joining its parent (its session's start, near enough).
    joined: HashMap<String, Instant>,
}

/// What the kills measured.
#[derive(Default)]
struct Heals {
    heal: Vec<Duration>,
    /// Heals where an orphan had (re)joined less than [`HEALTHY_SESSION`] before the kill.
    young: usize,
    /// Orphans whose new path still named the dead relay.
    named_dead: usize,
    baseline_gap: Vec<Duration>,
    /// What the listener received in the heal window, and in the second before the kill.
    kbps: Vec<f64>,
    baseline_kbps: Vec<f64>,
    gap: Vec<Duration>,
    connected: usize,
    rejoin: Vec<Duration>,
    orphans: usize,
    orphan_reconnects: u64,
    most_reconnects: u64,
    others_reconnected: u64,
}

async fn run(cli: &TreeCli, dir: &Path) -> anyhow::Result<()> {
    let bin = crate::existing(&cli.bin_dir.join("media-server"))?;
    let library = crate::media_library(&cli.library)?;
    let n = usize::try_from(cli.relays)?;
    let root_file = dir.join("root.toml");
    std::fs::write(
        &root_file,
        format!(
            "[[channel]]\nname = \"{CHANNEL}\"\ndescription = \"Tree benchmark\"\n\
             playlist = [\"Cloud Save\", \"Night Transit\"]\norder = \"in-order\"\n"
        ),
    )?;
    let mut root = Server::spawn(&bin, &library, &root_file, dir, "root")?;
    root.wait_addr(Duration::from_secs(20)).await?;
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()?;
    let relay_file = dir.join("relay.toml");
    std::fs::write(
        &relay_file,
        format!(
            "[[channel]]\nname = \"{CHANNEL}\"\nsource = \"{}\"\n",
            root.url
        ),
    )?;
    let mut bench = Bench {
        http,
        bin,
        library,
        dir: dir.to_owned(),
        relay_file,
        root,
        relays: Vec::with_capacity(n),
        max_children: 0,
        spawned: 0,
        joined: HashMap::new(),
    };
    let top = bench.wait_root().await?;
    bench.max_children = top.tree.max_children as usize;
    anyhow::ensure!(
        top.tree.url == bench.root.url,
        "the root calls itself {}, expected {}",
        top.tree.url,
        bench.root.url
    );
    println!(
        "tree bench: root {} ({}, max_children {}), {n} relays",
        bench.root.addr, top.title, bench.max_children
    );

    // Formation.
    let t0 = Instant::now();
    for _ in 0..n {
        bench.spawn_relay()?;
    }
    for r in &mut bench.relays {
        r.wait_addr(Duration::from_secs(20)).await?;
    }
    let (copies, shape) = bench.wait_tree(n, Duration::from_secs(60)).await?;
    let formed = t0.elapsed();
    let now = Instant::now();
    bench.joined = bench.relays.iter().map(|r| (r.url.clone(), now)).collect();
    let hist = shape.histogram();
    println!(
        "formed in {:.0} ms: depth histogram {}; root redirects {}",
        ms(formed),
        hist.iter()
            .map(|(d, c)| format!("d{d}={c}"))
            .collect::<Vec<_>>()
            .join(" "),
        copies[&bench.root.url].tree.redirects
    );

    // Latency along a deepest chain.
    let deepest = shape
        .depth
        .iter()
        .max_by_key(|&(url, d)| (*d, std::cmp::Reverse(url.clone())))
        .map(|(url, _)| url.clone())
        .context("no relay")?;
    let mut chain = copies[&deepest].tree.path.clone();
    chain.push(deepest.clone());
    let report = run_latency(
        &chain,
        Duration::from_secs_f64(cli.latency_seconds),
        Duration::from_secs(3),
        Duration::from_millis(100),
    )
    .await
    .context("latency along the chain")?;
    let mut report = report;
    let label = |url: &str| {
        let port = url.rsplit(':').next().unwrap_or(url);
        let port = port.split('/').next().unwrap_or(port);
        match shape.depth.get(url) {
            Some(0) => format!("root:{port}"),
            Some(d) => format!("d{d}:{port}"),
            None => url.to_owned(),
        }
    };
    for h in report.hops.iter_mut().chain(report.total.iter_mut()) {
        h.from = label(&h.from);
        h.to = label(&h.to);
    }
    println!(
        "latency root -> depth {} ({} s recorded, one ICY listener per copy):",
        chain.len() - 1,
        cli.latency_seconds
    );
    for line in report.text().lines() {
        println!("  {line}");
    }

    // Heals.
    let mut heals = Heals::default();
    for k in 0..cli.kills {
        bench
            .heal_once(k, n, &mut heals)
            .await
            .with_context(|| format!("kill {} of {}", k + 1, cli.kills))?;
    }
    if cli.kills > 0 {
        let (copies, shape) = bench.wait_tree(n, Duration::from_secs(30)).await?;
        println!(
            "heal, {} kills of a depth-1 relay with children (SIGKILL -> every orphan playing under another parent):",
            cli.kills
        );
        println!(
            "  heal time:                 {}; {} of {} heals had an orphan under {} s into its session (it waits its backoff first)",
            Summary::of(heals.heal).line_ms(),
            heals.young,
            cli.kills,
            HEALTHY_SESSION.as_secs()
        );
        let baseline = Summary::of(heals.baseline_gap);
        println!(
            "  listener on an orphan, largest read gap in [kill, heal + 1 s]: {}; in the 1 s before the kill: median {:.0} ms, max {:.0} ms",
            Summary::of(heals.gap).line_ms(),
            ms(baseline.quantile(0.5)),
            ms(baseline.quantile(1.0))
        );
        println!(
            "  listener's rate in [kill, heal + 1 s]: median {:.0} kbit/s, max {:.0} kbit/s; in the 1 s before the kill: median {:.0} kbit/s (channel {} kbit/s)",
            median(&heals.kbps),
            heals.kbps.iter().copied().fold(0.0, f64::max),
            median(&heals.baseline_kbps),
            copies[&bench.root.url].bitrate_kbps
        );
        println!(
            "  listeners still connected: {} of {}; orphans {}, their reconnects {} (at most {} per heal), other relays' reconnects {}",
            heals.connected,
            cli.kills,
            heals.orphans,
            heals.orphan_reconnects,
            heals.most_reconnects,
            heals.others_reconnected
        );
        println!(
            "  replacement relay spawned -> tree whole again: {}",
            Summary::of(heals.rejoin).line_ms()
        );
        let hist = shape.histogram();
        let loops: u64 = copies.values().map(|c| c.tree.loops_refused).sum();
        println!(
            "  tree after the kills: depth histogram {}; root redirects {}; loops refused {loops}",
            hist.iter()
                .map(|(d, c)| format!("d{d}={c}"))
                .collect::<Vec<_>>()
                .join(" "),
            copies[&bench.root.url].tree.redirects,
        );
        println!(
            "  stale paths: {} of {n} relays' paths are not their parent's path plus the parent{}; {} of {} orphans rejoined with a path naming the relay just killed",
            shape.stale_paths.len(),
            shape
                .stale_paths
                .iter()
                .max_by_key(|u| copies[*u].tree.path.len())
                .map(|u| {
                    let path = &copies[u].tree.path;
                    let dead = path.iter().filter(|p| !copies.contains_key(*p)).count();
                    format!(
                        " (longest: {} at depth {}, its path {} URLs long of which {dead} dead relays)",
                        label_port(u),
                        shape.depth[u],
                        path.len()
                    )
                })
                .unwrap_or_default(),
            heals.named_dead,
            heals.orphans,
        );
    }

    tokio::time::sleep(Duration::from_millis(300)).await;
    let (copies, shape) = bench.wait_tree(n, Duration::from_secs(30)).await?;
    let busiest = bench
        .relays
        .iter()
        .max_by_key(|r| {
            (
                copies[&r.url].tree.children.len(),
                std::cmp::Reverse(shape.depth[&r.url]),
            )
        })
        .context("no relay")?;
    let rss: Vec<f64> = bench.relays.iter().map(|r| rss_mb(r.pid())).collect();
    println!(
        "RSS at the end: root {:.1} MB, a depth-{} relay with {} children {:.1} MB (relays {:.1}-{:.1} MB)",
        rss_mb(bench.root.pid()),
        shape.depth[&busiest.url],
        copies[&busiest.url].tree.children.len(),
        rss_mb(busiest.pid()),
        rss.iter().copied().fold(f64::INFINITY, f64::min),
        rss.iter().copied().fold(0.0, f64::max),
    );
    Ok(())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(f64::NAN)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn label_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches(&format!("/live/{CHANNEL}"))
        .to_owned()
}

impl Bench {
    fn spawn_relay(&mut self) -> anyhow::Result<()> {
        self.spawned += 1;
        let name = format!("relay{:02}", self.spawned);
        let server = Server::spawn(&self.bin, &self.library, &self.relay_file, &self.dir, &name)?;
        self.relays.push(server);
        Ok(())
    }

    async fn stats(&self, server: &Server) -> anyhow::Result<ChannelStats> {
        let url = format!("http://{}/v1/channels/{CHANNEL}", server.addr);
        Ok(self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("{} ({})", server.name, server.addr))?
            .error_for_status()?
            .json()
            .await?)
    }

    async fn wait_root(&self) -> anyhow::Result<ChannelStats> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let last = match self.stats(&self.root).await {
                Ok(s) if s.source.state == SourceState::Playing => return Ok(s),
                Ok(s) => format!("{:?}", s.source.state),
                Err(e) => format!("{e:#}"),
            };
            anyhow::ensure!(
                Instant::now() < deadline,
                "the root's channel is not playing within 20 s ({last}): {}",
                self.root.log_tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Every copy's stats, keyed by the URL it calls itself (checked against its address).
    async fn snapshot(&self) -> anyhow::Result<BTreeMap<String, ChannelStats>> {
        let all: Vec<&Server> = std::iter::once(&self.root).chain(&self.relays).collect();
        let got = futures_util::future::join_all(all.iter().map(|s| self.stats(s))).await;
        let mut out = BTreeMap::new();
        for (s, stats) in all.iter().zip(got) {
            let stats = stats?;
            anyhow::ensure!(
                stats.tree.url == s.url,
                "{} calls itself {}, expected {}",
                s.name,
                stats.tree.url,
                s.url
            );
            out.insert(s.url.clone(), stats);
        }
        Ok(out)
    }

    /// Polls every copy until the tree of `n` relays is consistent.
    async fn wait_tree(
        &mut self,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<(BTreeMap<String, ChannelStats>, Shape)> {
        anyhow::ensure!(
            self.relays.len() == n,
            "{} relays, expected {n}",
            self.relays.len()
        );
        let deadline = Instant::now() + timeout;
        loop {
            let problem = match self.snapshot().await {
                Ok(copies) => {
                    let nodes = copies
                        .iter()
                        .map(|(u, s)| (u.clone(), Node::of(s)))
                        .collect();
                    match check_tree(&self.root.url, self.max_children, &nodes) {
                        Ok(shape) => return Ok((copies, shape)),
                        Err(p) => p,
                    }
                }
                Err(e) => format!("{e:#}"),
            };
            // A copy that died is a failure now, not a timeout later.
            for s in std::iter::once(&mut self.root).chain(&mut self.relays) {
                if let Some(status) = s.child.try_wait()? {
                    anyhow::bail!(
                        "{} (pid {}) died ({status}): {}",
                        s.name,
                        s.pid(),
                        s.log_tail()
                    );
                }
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the tree of {n} relays is not consistent within {} s: {problem}",
                timeout.as_secs()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Where the relays of these URLs are in `self.relays` now.
    fn positions(&self, urls: &[String]) -> anyhow::Result<Vec<usize>> {
        urls.iter()
            .map(|u| {
                self.relays
                    .iter()
                    .position(|r| &r.url == u)
                    .context("an orphan unknown")
            })
            .collect()
    }

    /// Kills a depth-1 relay with children (the `k`-th of the root's children, sorted, else the
    /// other), measures the heal, then starts a replacement and waits for `n` relays again.
    async fn heal_once(&mut self, k: usize, n: usize, heals: &mut Heals) -> anyhow::Result<()> {
        let (copies, _) = self.wait_tree(n, Duration::from_secs(30)).await?;
        let mut top = copies[&self.root.url].tree.children.clone();
        top.sort();
        anyhow::ensure!(!top.is_empty(), "the root has no children");
        let victim_url = (0..top.len())
            .map(|i| &top[(k + i) % top.len()])
            .find(|u| !copies[*u].tree.children.is_empty())
            .cloned()
            .context("no depth-1 relay has children (too few relays to measure a heal)")?;
        let mut orphans = copies[&victim_url].tree.children.clone();
        orphans.sort();
        let orphan_servers = self.positions(&orphans)?;
        let before: HashMap<String, u64> = copies
            .iter()
            .map(|(u, s)| (u.clone(), s.source.reconnects))
            .collect();

        let listener = PlainListener::start(&self.relays[orphan_servers[0]].addr).await?;
        listener
            .wait_streaming(
                BEFORE_KILL + Duration::from_millis(200),
                Duration::from_secs(10),
            )
            .await?;

        let at = self
            .relays
            .iter()
            .position(|r| r.url == victim_url)
            .context("the victim is unknown")?;
        let mut victim = self.relays.remove(at);
        let orphan_servers = self.positions(&orphans)?;
        let killed = Instant::now();
        let young = orphans.iter().any(|o| {
            self.joined
                .get(o)
                .is_none_or(|j| killed - *j < HEALTHY_SESSION)
        });
        victim.kill9()?;
        drop(victim);

        let deadline = killed + Duration::from_secs(30);
        // Rejoined: playing under another parent (the path's last URL). The brief's stricter "a
        // path without the dead relay" never holds for an orphan placed under a relay whose own
        // path is stale (it learnt it before its subtree moved, and passes it on): counted apart.
        let (healed, named_dead) = loop {
            let got = futures_util::future::join_all(
                orphan_servers.iter().map(|&i| self.stats(&self.relays[i])),
            )
            .await;
            let now = Instant::now();
            let mut waiting = None;
            for (i, s) in orphan_servers.iter().zip(&got) {
                let name = &self.relays[*i].name;
                match s {
                    Ok(s)
                        if s.source.state == SourceState::Playing
                            && s.tree.path.last().is_some_and(|p| *p != victim_url) => {}
                    Ok(s) => {
                        waiting = Some(format!(
                            "{name} is {:?} with path {:?}",
                            s.source.state, s.tree.path
                        ));
                    }
                    Err(e) => waiting = Some(format!("{e:#}")),
                }
            }
            let Some(waiting) = waiting else {
                let named_dead = got
                    .iter()
                    .flatten()
                    .filter(|s| s.tree.path.contains(&victim_url))
                    .count();
                break (now, named_dead);
            };
            anyhow::ensure!(
                now < deadline,
                "the orphans did not rejoin within 30 s of the kill: {waiting}"
            );
            tokio::time::sleep(HEAL_POLL).await;
        };
        heals.heal.push(healed - killed);
        heals.named_dead += named_dead;
        heals.young += usize::from(young);
        for o in &orphans {
            self.joined.insert(o.clone(), healed);
        }
        let end = healed + AFTER_HEAL;
        tokio::time::sleep_until(end.into()).await;
        let (gap, kbps, connected) = listener.window(killed, end);
        let (baseline, baseline_kbps, _) = listener.window(killed - BEFORE_KILL, killed);
        heals.kbps.push(kbps);
        heals.baseline_kbps.push(baseline_kbps);
        drop(listener);
        heals.gap.push(gap);
        heals.baseline_gap.push(baseline);
        heals.connected += usize::from(connected);

        let copies = self.snapshot().await?;
        heals.orphans += orphans.len();
        for (url, s) in &copies {
            let delta = s.source.reconnects - before.get(url).copied().unwrap_or(0);
            if orphans.contains(url) {
                heals.orphan_reconnects += delta;
                heals.most_reconnects = heals.most_reconnects.max(delta);
            } else {
                heals.others_reconnected += delta;
            }
        }

        let t = Instant::now();
        self.spawn_relay()?;
        let last = self.relays.len() - 1;
        self.relays[last].wait_addr(Duration::from_secs(20)).await?;
        self.wait_tree(n, Duration::from_secs(30)).await?;
        heals.rejoin.push(t.elapsed());
        self.joined
            .insert(self.relays[last].url.clone(), Instant::now());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "http://r/live/x";

    fn node(path: &[&str], children: &[&str]) -> Node {
        Node {
            path: path.iter().map(|s| (*s).to_owned()).collect(),
            children: children.iter().map(|s| (*s).to_owned()).collect(),
            state: SourceState::Playing,
        }
    }

    /// root → a, b; a → c, d.
    fn tree() -> BTreeMap<String, Node> {
        let mut t = BTreeMap::new();
        t.insert(ROOT.to_owned(), node(&[], &["a", "b"]));
        t.insert("a".to_owned(), node(&[ROOT], &["c", "d"]));
        t.insert("b".to_owned(), node(&[ROOT], &[]));
        t.insert("c".to_owned(), node(&[ROOT, "a"], &[]));
        t.insert("d".to_owned(), node(&[ROOT, "a"], &[]));
        t
    }

    #[test]
    fn a_consistent_tree_has_its_depths() {
        let shape = check_tree(ROOT, 2, &tree()).unwrap();
        assert_eq!(shape.depth[ROOT], 0);
        assert_eq!(shape.depth["a"], 1);
        assert_eq!(shape.depth["d"], 2);
        assert_eq!(shape.histogram(), BTreeMap::from([(1, 2), (2, 2)]));
        assert!(shape.stale_paths.is_empty());
    }

    #[test]
    fn names_each_problem() {
        let problem = |edit: &dyn Fn(&mut BTreeMap<String, Node>)| {
            let mut t = tree();
            edit(&mut t);
            check_tree(ROOT, 2, &t).unwrap_err()
        };
        let e = problem(&|t| t.get_mut("b").unwrap().state = SourceState::Reconnecting);
        assert!(e.contains("b is Reconnecting"), "{e}");
        let e = problem(&|t| t.get_mut("b").unwrap().path.clear());
        assert!(e.contains("b has an empty path"), "{e}");
        // Over max_children.
        let e = problem(&|t| {
            t.get_mut("a").unwrap().children.push("b".to_owned());
            t.get_mut(ROOT).unwrap().children.retain(|c| c != "b");
        });
        assert!(e.contains("a has 3 children"), "{e}");
        // Listed by two.
        let e = problem(&|t| t.get_mut("b").unwrap().children.push("c".to_owned()));
        assert!(e.contains("c is listed by a, b"), "{e}");
        // Listed by someone other than its parent.
        let e = problem(&|t| {
            t.get_mut("a").unwrap().children.retain(|c| c != "c");
            t.get_mut("b").unwrap().children.push("c".to_owned());
        });
        assert!(e.contains("c is listed by b, not its parent a"), "{e}");
        // Listed by no one.
        let e = problem(&|t| t.get_mut("a").unwrap().children.retain(|c| c != "d"));
        assert!(e.contains("d is listed by no one"), "{e}");
        // A dead child still listed.
        let e = problem(&|t| {
            t.remove("c");
        });
        assert!(e.contains("a lists a child that is gone: c"), "{e}");
        // A path from elsewhere.
        let e = problem(&|t| t.get_mut("b").unwrap().path = vec!["http://other/live/x".into()]);
        assert!(e.contains("b's path starts at http://other/live/x"), "{e}");
        // The root missing, or listed as a child.
        let e = problem(&|t| {
            t.remove(ROOT);
        });
        assert!(e.contains("root") && e.contains("missing"), "{e}");
        let e = problem(&|t| t.get_mut("b").unwrap().children.push(ROOT.to_owned()));
        assert!(e.contains("the root is listed as a child by b"), "{e}");
    }

    #[test]
    fn a_cycle_is_not_under_the_root() {
        // e and f list each other, each with a path ending at the other.
        let mut t = tree();
        t.insert("e".to_owned(), node(&[ROOT, "f"], &["f"]));
        t.insert("f".to_owned(), node(&[ROOT, "e"], &["e"]));
        let e = check_tree(ROOT, 2, &t).unwrap_err();
        assert!(e.contains("cycle"), "{e}");
    }

    #[test]
    fn a_moved_subtree_keeps_its_links_but_shows_a_stale_path() {
        // a died; c took its place under the root, d went under b; c's child g still has the path
        // it learnt under a.
        let mut t = BTreeMap::new();
        t.insert(ROOT.to_owned(), node(&[], &["b", "c"]));
        t.insert("b".to_owned(), node(&[ROOT], &["d"]));
        t.insert("c".to_owned(), node(&[ROOT], &["g"]));
        t.insert("d".to_owned(), node(&[ROOT, "b"], &[]));
        t.insert("g".to_owned(), node(&[ROOT, "a", "c"], &[]));
        let shape = check_tree(ROOT, 2, &t).unwrap();
        assert_eq!(shape.stale_paths, vec!["g".to_owned()]);
        assert_eq!(
            shape.depth["g"], 2,
            "depth along the parents, not the path's length"
        );
    }

    #[test]
    fn the_largest_gap_overlaps_the_window() {
        let t = Instant::now();
        let at = |ms: u64| t + Duration::from_millis(ms);
        let reads = [at(0), at(100), at(150), at(600), at(700), at(1000)];
        // The 150 → 600 gap began before the window: counted whole.
        assert_eq!(
            largest_gap(&reads, at(200), at(1000)),
            Duration::from_millis(450)
        );
        assert_eq!(
            largest_gap(&reads, at(650), at(1000)),
            Duration::from_millis(300)
        );
        // Nothing after the last read: silent until the end.
        assert_eq!(
            largest_gap(&reads, at(650), at(2000)),
            Duration::from_millis(1000)
        );
        assert_eq!(largest_gap(&[], at(0), at(50)), Duration::from_millis(50));
    }
}
