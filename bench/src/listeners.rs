//! `icyload`: the live channels load generator (`scripts/bench-listeners.sh`).
//!
//! **Load** (`icyload URL --listeners N`): opens N ICY listeners on one channel at a join rate,
//! each `GET /live/NAME HTTP/1.1` with `Icy-MetaData: 1`, and parses the reply and every segment
//! with [`grid_proto::icy::Decoder`] (metadata blocks parsed, titles counted). Once every listener
//! has joined (or failed), a steady window of `--seconds` measures each listener's bitrate; stalls
//! (nothing received for over 2 s, from the first byte to the end of the window) and time to first
//! audio byte cover the whole run. With `--server-pid`, the server's CPU (user and system, from
//! `/proc/PID/stat`) over the window and its RSS before the joins and at the end.
//!
//! **Relay latency** (`icyload URL_A --relay URL_B --relay URL_C`): one listener per server of a
//! relay chain; 64-byte windows of A's live audio (after its burst) are looked up in B's and C's
//! audio, and the arrival times compared: the latency each hop adds.
//!
//! Lean on purpose, to hold 19,000 connections on one core: one thread (a current-thread runtime
//! and a `LocalSet`), a small task per listener, no per-listener read buffer (every task reads
//! into one shared 64 KiB buffer, sequentially, and feeds the decoder at most 512 bytes at a time,
//! so a decoder keeps about that much; a short read clears the socket's readiness without the
//! `WouldBlock` read), figures in `Cell`s of a shared slot table.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Context;
use grid_proto::icy::{self, Decoder, IcyRequest, Item, Protocol};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::{TcpSocket, TcpStream};

/// Command line of `icyload`.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "icyload",
    about = "ICY listeners load generator and relay latency probe"
)]
pub struct LoadCli {
    /// The channel: `http://HOST:PORT/live/NAME`.
    pub url: String,
    /// Listeners to hold.
    #[arg(long, default_value_t = 1000)]
    pub listeners: usize,
    /// Joins per second.
    #[arg(long, default_value_t = 2000.0)]
    pub rate: f64,
    /// Length of the steady window (after every listener joined), in seconds.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// Seconds between the last join and the start of the steady window.
    #[arg(long, default_value_t = 1.0)]
    pub settle: f64,
    /// The server's pid: its CPU over the window and its RSS before and after the joins.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// A listener receiving nothing for longer than this (seconds) has stalled.
    #[arg(long, default_value_t = 2.0)]
    pub stall: f64,
    /// Seconds a listener may take to connect and receive its first audio byte.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write one CSV line per listener here (times in ms from the first join): start, connect,
    /// reply head, first audio, longest silence and its start, window kbit/s, failure.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<std::path::PathBuf>,
    /// With a server on 127.x: connect from this many loopback addresses (127.0.0.1..=N), each
    /// bound to a free port. From one address the kernel's search for a free ephemeral port
    /// towards one server grows with the connections (about 14,000 in, every connect scans the
    /// even ports first), and the generator spends its core in connect(); 1 leaves it to the kernel.
    #[arg(long, default_value_t = 8)]
    pub sources: usize,
    /// Relay latency mode: a server relaying URL (then one relaying that, ...); one listener each.
    #[arg(long = "relay", value_name = "URL")]
    pub relays: Vec<String>,
    /// Relay latency mode: seconds of the first stream's start skipped (the bursts).
    #[arg(long, default_value_t = 3.0)]
    pub skip: f64,
    /// Relay latency mode: seconds between samples.
    #[arg(long, default_value_t = 0.5)]
    pub every: f64,
}

impl LoadCli {
    /// The load settings of this command line.
    pub fn load(&self) -> LoadConfig {
        LoadConfig {
            url: self.url.clone(),
            listeners: self.listeners,
            rate: self.rate,
            window: Duration::from_secs_f64(self.seconds),
            settle: Duration::from_secs_f64(self.settle),
            server_pid: self.server_pid,
            stall: Duration::from_secs_f64(self.stall),
            timeout: Duration::from_secs_f64(self.timeout),
            dump: self.dump.clone(),
            sources: self.sources,
        }
    }
}

/// Runs `icyload`: raises the open-files limit, then the load or the relay latency probe, and
/// prints the report.
pub async fn main(cli: LoadCli) -> anyhow::Result<()> {
    let fd_limit = raise_nofile_limit();
    if cli.relays.is_empty() {
        if (cli.listeners as u64) + 32 > fd_limit {
            eprintln!(
                "icyload: warning: {} listeners with an open-files limit of {fd_limit}",
                cli.listeners
            );
        }
        let report = run_load(&cli.load()).await?;
        if cli.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            println!("{}", report.line());
        }
    } else {
        let mut urls = vec![cli.url.clone()];
        urls.extend(cli.relays.iter().cloned());
        let report = run_latency(
            &urls,
            Duration::from_secs_f64(cli.seconds),
            Duration::from_secs_f64(cli.skip),
            Duration::from_secs_f64(cli.every),
        )
        .await?;
        if cli.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            print!("{}", report.text());
        }
    }
    Ok(())
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the soft limit in force.
pub fn raise_nofile_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let lim = getrlimit(Resource::Nofile);
    if lim.maximum != lim.current {
        let raised = rustix::process::Rlimit {
            current: lim.maximum,
            maximum: lim.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            eprintln!("icyload: cannot raise the open-files limit: {e}");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Settings of one load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// `http://HOST:PORT/live/NAME`.
    pub url: String,
    /// Listeners to hold.
    pub listeners: usize,
    /// Joins per second.
    pub rate: f64,
    /// The steady window.
    pub window: Duration,
    /// Between the last join and the window.
    pub settle: Duration,
    /// The server to measure.
    pub server_pid: Option<u32>,
    /// Silence longer than this is a stall.
    pub stall: Duration,
    /// Connect and first audio byte within this, or the listener failed.
    pub timeout: Duration,
    /// Per-listener CSV.
    pub dump: Option<std::path::PathBuf>,
    /// Loopback source addresses to spread the connections over (see [`LoadCli::sources`]).
    pub sources: usize,
}

/// `127.0.0.1 ..= 127.0.0.n` when the server is on IPv4 loopback and `n > 1`, else none.
fn source_addresses(server: SocketAddr, n: usize) -> Vec<IpAddr> {
    match server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() && n > 1 => (1..=n.min(254))
            .map(|k| IpAddr::V4(Ipv4Addr::new(127, 0, 0, k as u8)))
            .collect(),
        _ => Vec::new(),
    }
}

/// What happened to a listener that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Connection refused.
    Refused,
    /// Connection reset (or broken pipe).
    Reset,
    /// The server closed the stream.
    Closed,
    /// The ICY decoder (or the chunked framing) rejected the stream.
    Parse,
    /// The reply was not a success (404, 503...).
    Status(u16),
    /// No connection or no audio within the timeout.
    Timeout,
    /// Any other I/O error.
    Other,
}

impl Failure {
    fn of_io(e: &std::io::Error) -> Self {
        match e.kind() {
            ErrorKind::ConnectionRefused => Failure::Refused,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
                Failure::Reset
            }
            ErrorKind::UnexpectedEof => Failure::Closed,
            ErrorKind::TimedOut => Failure::Timeout,
            _ => Failure::Other,
        }
    }
}

/// Failed listeners by cause.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Failures {
    /// Connection refused.
    pub refused: usize,
    /// Connection reset.
    pub reset: usize,
    /// Closed by the server (after connecting).
    pub closed: usize,
    /// Parse errors.
    pub parse: usize,
    /// Replies other than 200.
    pub status: usize,
    /// No connection or no audio in time.
    pub timeout: usize,
    /// Other I/O errors.
    pub other: usize,
}

impl Failures {
    fn add(&mut self, f: Failure) {
        match f {
            Failure::Refused => self.refused += 1,
            Failure::Reset => self.reset += 1,
            Failure::Closed => self.closed += 1,
            Failure::Parse => self.parse += 1,
            Failure::Status(_) => self.status += 1,
            Failure::Timeout => self.timeout += 1,
            Failure::Other => self.other += 1,
        }
    }

    /// All failures.
    pub fn total(&self) -> usize {
        self.refused
            + self.reset
            + self.closed
            + self.parse
            + self.status
            + self.timeout
            + self.other
    }
}

/// One listener's figures, written by its task and read by the driver (one thread: `Cell`s).
#[derive(Debug, Default)]
struct Slot {
    failure: Cell<Option<Failure>>,
    connected: Cell<Option<Instant>>,
    first_audio: Cell<Option<Instant>>,
    last_read: Cell<Option<Instant>>,
    ttfb: Cell<Duration>,
    max_gap: Cell<Duration>,
    /// The longest silence that ended in the steady window.
    window_gap: Cell<Duration>,
    /// When the longest silence began.
    max_gap_start: Cell<Option<Instant>>,
    /// When the reply head was parsed.
    head: Cell<Option<Instant>>,
    /// When the connection was started.
    start: Cell<Option<Instant>>,
    audio_bytes: Cell<u64>,
    window_start: Cell<u64>,
    blocks: Cell<u64>,
    titled: Cell<u64>,
    title_changes: Cell<u64>,
    title_hash: Cell<u64>,
}

impl Slot {
    fn settled(&self) -> bool {
        self.failure.get().is_some() || self.first_audio.get().is_some()
    }

    fn fail(&self, f: Failure) {
        if self.failure.get().is_none() {
            self.failure.set(Some(f));
        }
    }

    /// A silence of `gap` ended at `end`.
    fn gap(&self, gap: Duration, end: Instant, window: Option<Instant>) {
        if gap > self.max_gap.get() {
            self.max_gap.set(gap);
            self.max_gap_start.set(end.checked_sub(gap));
        }
        if window.is_some_and(|w| end > w) && gap > self.window_gap.get() {
            self.window_gap.set(gap);
        }
    }

    fn add(cell: &Cell<u64>, n: u64) {
        cell.set(cell.get() + n);
    }
}

struct Shared {
    slots: Vec<Slot>,
    addr: SocketAddr,
    /// Source addresses, round robin; empty: the kernel's choice.
    sources: Vec<IpAddr>,
    request: Vec<u8>,
    timeout: Duration,
    /// Start of the steady window, once it started.
    window: Cell<Option<Instant>>,
    /// Distinct titles seen (the first few).
    titles: RefCell<HashSet<String>>,
    first_error: RefCell<Option<String>>,
}

impl Shared {
    fn note_error(&self, text: impl FnOnce() -> String) {
        let mut e = self.first_error.borrow_mut();
        if e.is_none() {
            *e = Some(text());
        }
    }
}

/// Bytes handed to the decoder at once: about what a decoder keeps allocated (2 KiB pieces cost
/// 4.5 KiB of RSS per listener, 512-byte pieces 2.3 KiB, at no visible CPU cost).
const FEED: usize = 512;
/// The read buffer shared by every listener of the thread.
const SCRATCH: usize = 64 * 1024;
const MAX_TITLES: usize = 64;

thread_local! {
    static SCRATCH_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH]);
}

/// Server (or generator) figures over the steady window.
#[derive(Debug, Clone, Serialize)]
pub struct ServerFigures {
    /// Its pid.
    pub pid: u32,
    /// User CPU over the window, seconds.
    pub user_s: f64,
    /// System CPU over the window, seconds.
    pub system_s: f64,
    /// (user + system) / window, % of one core.
    pub cpu_pct: f64,
    /// CPU per listener-second, µs.
    pub us_per_listener_s: f64,
    /// (user + system) from the first join to every listener settled, % of one core.
    pub join_cpu_pct: f64,
    /// VmRSS before the joins, KiB.
    pub rss_before_kib: u64,
    /// VmRSS at the end of the window (listeners still connected), KiB.
    pub rss_end_kib: u64,
    /// (end - before) / listeners streaming, KiB.
    pub kib_per_listener: f64,
}

/// The generator's own cost.
#[derive(Debug, Clone, Serialize)]
pub struct SelfFigures {
    /// User + system CPU over the window, % of one core.
    pub cpu_pct: f64,
    /// User + system CPU from the first join to every listener settled, % of one core.
    pub join_cpu_pct: f64,
    /// VmRSS at the end, KiB.
    pub rss_kib: u64,
    /// The open-files limit in force.
    pub fd_limit: u64,
}

/// The figures of a load run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Listeners started.
    pub listeners: usize,
    /// Listeners that received audio.
    pub connected: usize,
    /// Listeners still streaming at the end of the window.
    pub alive: usize,
    /// Listeners that failed (any time).
    pub failed: usize,
    /// Failures by cause.
    pub failures: Failures,
    /// The first failure, in words.
    pub first_error: Option<String>,
    /// Listeners that received nothing for longer than the stall threshold.
    pub stalls: usize,
    /// Of which had such a silence end in the steady window (not during the joins).
    pub stalls_in_window: usize,
    /// Listeners whose first audio byte took over a second (a dropped SYN is retried after 1 s).
    pub slow_joins: usize,
    /// Connect start to connected, p99, ms.
    pub connect_p99_ms: f64,
    /// Connected to the reply head parsed, p99, ms.
    pub head_p99_ms: f64,
    /// Listeners whose longest silence began in each second of the run (from the first join),
    /// for the listeners that stalled.
    pub stall_starts: Vec<u32>,
    /// How late the generator started a connection against the join schedule, at worst, ms.
    pub join_lag_ms: f64,
    /// The stall threshold, s.
    pub stall_s: f64,
    /// The longest silence of any listener, ms.
    pub max_gap_ms: f64,
    /// p99 of the listeners' longest silences, ms.
    pub gap_p99_ms: f64,
    /// Audio bitrate over the window, p1 over the listeners that received audio, kbit/s.
    pub bitrate_p1_kbps: f64,
    /// Same, median.
    pub bitrate_p50_kbps: f64,
    /// Time to first audio byte (from connect start), median, ms.
    pub ttfb_p50_ms: f64,
    /// Same, p99.
    pub ttfb_p99_ms: f64,
    /// Same, max.
    pub ttfb_max_ms: f64,
    /// The join rate asked for.
    pub join_rate_target: f64,
    /// Connected listeners / (first connect start to last connect done).
    pub joins_per_s: f64,
    /// First connect start to every listener settled (streaming or failed), s.
    pub join_s: f64,
    /// The steady window, s.
    pub window_s: f64,
    /// Metadata blocks parsed.
    pub blocks: u64,
    /// Of which carried a `StreamTitle`.
    pub titled_blocks: u64,
    /// Title changes seen by listeners (after their first title).
    pub title_changes: u64,
    /// Distinct titles (the first 64).
    pub titles: Vec<String>,
    /// The server, with `--server-pid`.
    pub server: Option<ServerFigures>,
    /// Why the server could not be measured, when it was asked for.
    pub server_error: Option<String>,
    /// The generator itself.
    pub generator: SelfFigures,
}

impl LoadReport {
    /// One line with every figure.
    pub fn line(&self) -> String {
        let f = &self.failures;
        let mut s = format!(
            "N={} connected {} alive {} failed {} (refused {} reset {} closed {} parse {} status {} timeout {} other {}) \
             stalls {} (in the window {}, max gap {:.0} ms, p99 {:.0} ms) | bitrate p1 {:.1} p50 {:.1} kbit/s | TTFB p50 {:.1} p99 {:.1} max {:.1} ms, over 1 s {} \
             | joins {:.0}/s (asked {:.0}, generator late by {:.0} ms at worst), all settled in {:.2} s | window {:.1} s | blocks {} (titled {}, title changes {})",
            self.listeners,
            self.connected,
            self.alive,
            self.failed,
            f.refused,
            f.reset,
            f.closed,
            f.parse,
            f.status,
            f.timeout,
            f.other,
            self.stalls,
            self.stalls_in_window,
            self.max_gap_ms,
            self.gap_p99_ms,
            self.bitrate_p1_kbps,
            self.bitrate_p50_kbps,
            self.ttfb_p50_ms,
            self.ttfb_p99_ms,
            self.ttfb_max_ms,
            self.slow_joins,
            self.joins_per_s,
            self.join_rate_target,
            self.join_lag_ms,
            self.join_s,
            self.window_s,
            self.blocks,
            self.titled_blocks,
            self.title_changes,
        );
        match (&self.server, &self.server_error) {
            (Some(sv), _) => s.push_str(&format!(
                " | server CPU user {:.2} s sys {:.2} s = {:.1} % core (joins {:.1} %), {:.2} µs/listener-s | server RSS {:.1} -> {:.1} MiB = {:.2} KiB/listener",
                sv.user_s,
                sv.system_s,
                sv.cpu_pct,
                sv.join_cpu_pct,
                sv.us_per_listener_s,
                sv.rss_before_kib as f64 / 1024.0,
                sv.rss_end_kib as f64 / 1024.0,
                sv.kib_per_listener
            )),
            (None, Some(e)) => s.push_str(&format!(" | server not measured: {e}")),
            (None, None) => {}
        }
        s.push_str(&format!(
            " | icyload CPU {:.1} % (joins {:.1} %) RSS {:.1} MiB",
            self.generator.cpu_pct,
            self.generator.join_cpu_pct,
            self.generator.rss_kib as f64 / 1024.0
        ));
        if let Some(e) = &self.first_error {
            s.push_str(&format!(" | first error: {e}"));
        }
        s
    }
}

/// A parsed `http://host:port/path`.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port` as written (the Host header).
    pub authority: String,
    /// The request path.
    pub path: String,
}

impl Target {
    /// Parses a plain-HTTP URL.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .with_context(|| format!("{url}: only http:// URLs"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        anyhow::ensure!(!authority.is_empty(), "{url}: no host");
        let authority = if authority.contains(':') && !authority.ends_with(']') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            authority,
            path: path.to_string(),
        })
    }

    /// The first address of the host.
    pub async fn resolve(&self) -> anyhow::Result<SocketAddr> {
        tokio::net::lookup_host(&self.authority)
            .await
            .with_context(|| format!("resolving {}", self.authority))?
            .next()
            .with_context(|| format!("{} has no address", self.authority))
    }

    /// The ICY request: `GET path HTTP/1.1`, `Icy-MetaData: 1`.
    pub fn request(&self) -> Vec<u8> {
        let mut req = IcyRequest::get(&self.authority, &self.path);
        req.protocol = Protocol::Http11;
        let mut out = Vec::with_capacity(128);
        icy::encode_request(&req, &mut out);
        out
    }
}

/// Runs one load: joins, settles, measures the window, and reports.
pub async fn run_load(cfg: &LoadConfig) -> anyhow::Result<LoadReport> {
    let target = Target::parse(&cfg.url)?;
    let addr = target.resolve().await?;
    let shared = Rc::new(Shared {
        slots: (0..cfg.listeners).map(|_| Slot::default()).collect(),
        addr,
        sources: source_addresses(addr, cfg.sources),
        request: target.request(),
        timeout: cfg.timeout,
        window: Cell::new(None),
        titles: RefCell::new(HashSet::new()),
        first_error: RefCell::new(None),
    });
    let mut server_error = None;
    let server_before = cfg.server_pid.and_then(|pid| match proc_rss_kib(pid) {
        Ok(rss) => Some(rss),
        Err(e) => {
            server_error = Some(format!("{e:#}"));
            None
        }
    });
    let fd_limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(u64::MAX);

    let local = tokio::task::LocalSet::new();
    let timing = local
        .run_until(drive(cfg, shared.clone(), server_before.is_some()))
        .await;
    // Dropping the tasks closes every connection.
    drop(local);
    let timing = timing?;

    let mut failures = Failures::default();
    let (mut connected, mut alive, mut stalls) = (0, 0, 0);
    let (mut stalls_in_window, mut slow_joins) = (0, 0);
    let (mut connects, mut heads, mut stall_starts) = (Vec::new(), Vec::new(), Vec::<u32>::new());
    let (mut ttfbs, mut gaps, mut rates) = (Vec::new(), Vec::new(), Vec::new());
    let (mut blocks, mut titled, mut changes) = (0, 0, 0);
    let mut last_connect = None::<Instant>;
    for slot in &shared.slots {
        if let Some(f) = slot.failure.get() {
            failures.add(f);
        }
        if let Some(c) = slot.connected.get() {
            last_connect = last_connect.max(Some(c));
        }
        blocks += slot.blocks.get();
        titled += slot.titled.get();
        changes += slot.title_changes.get();
        if slot.first_audio.get().is_none() {
            continue;
        }
        connected += 1;
        if slot.failure.get().is_none() {
            alive += 1;
        }
        ttfbs.push(slot.ttfb.get());
        let gap = slot.max_gap.get();
        gaps.push(gap);
        if gap > cfg.stall {
            stalls += 1;
        }
        if gap > cfg.stall
            && let Some(at) = slot.max_gap_start.get()
        {
            let sec = at.saturating_duration_since(timing.t0).as_secs() as usize;
            if stall_starts.len() <= sec {
                stall_starts.resize(sec + 1, 0);
            }
            stall_starts[sec] += 1;
        }
        if let (Some(s), Some(c)) = (slot.start.get(), slot.connected.get()) {
            connects.push(c.duration_since(s));
            if let Some(h) = slot.head.get() {
                heads.push(h.duration_since(c));
            }
        }
        if slot.window_gap.get() > cfg.stall {
            stalls_in_window += 1;
        }
        if slot.ttfb.get() > Duration::from_secs(1) {
            slow_joins += 1;
        }
        let bytes = slot
            .audio_bytes
            .get()
            .saturating_sub(slot.window_start.get());
        rates.push(bytes as f64 * 8.0 / 1000.0 / timing.window.as_secs_f64());
    }
    if let Some(path) = &cfg.dump {
        dump(path, &shared.slots, timing.t0, timing.window)?;
    }
    ttfbs.sort();
    connects.sort();
    heads.sort();
    gaps.sort();
    rates.sort_by(f64::total_cmp);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let join_span = last_connect.map(|c| c.duration_since(timing.t0).as_secs_f64());
    let joins_per_s = match join_span {
        Some(s) if s > 0.0 => connected as f64 / s,
        _ => 0.0,
    };

    let window_s = timing.window.as_secs_f64();
    let server = match (cfg.server_pid, server_before, &timing.server_cpu) {
        (Some(pid), Some(before), Some((user_s, system_s))) => {
            let cpu = user_s + system_s;
            let end = timing.server_rss_end.unwrap_or(before);
            Some(ServerFigures {
                pid,
                user_s: *user_s,
                system_s: *system_s,
                cpu_pct: cpu / window_s * 100.0,
                join_cpu_pct: timing.server_join_cpu / timing.join.as_secs_f64().max(1e-3) * 100.0,
                us_per_listener_s: if alive > 0 {
                    cpu * 1e6 / (alive as f64 * window_s)
                } else {
                    0.0
                },
                rss_before_kib: before,
                rss_end_kib: end,
                kib_per_listener: if alive > 0 {
                    end.saturating_sub(before) as f64 / alive as f64
                } else {
                    0.0
                },
            })
        }
        _ => None,
    };
    if cfg.server_pid.is_some() && server.is_none() && server_error.is_none() {
        server_error = Some(
            timing
                .server_error
                .clone()
                .unwrap_or_else(|| "server CPU not readable".into()),
        );
    }
    let titles = shared.titles.borrow().iter().cloned().collect();
    let first_error = shared.first_error.borrow().clone();
    Ok(LoadReport {
        listeners: cfg.listeners,
        connected,
        alive,
        failed: failures.total(),
        failures,
        first_error,
        stalls,
        stalls_in_window,
        slow_joins,
        join_lag_ms: ms(timing.join_lag),
        connect_p99_ms: ms(quantile(&connects, 0.99).unwrap_or_default()),
        head_p99_ms: ms(quantile(&heads, 0.99).unwrap_or_default()),
        stall_starts,
        stall_s: cfg.stall.as_secs_f64(),
        max_gap_ms: gaps.last().copied().map(ms).unwrap_or(0.0),
        gap_p99_ms: ms(quantile(&gaps, 0.99).unwrap_or_default()),
        bitrate_p1_kbps: quantile(&rates, 0.01).unwrap_or(0.0),
        bitrate_p50_kbps: quantile(&rates, 0.5).unwrap_or(0.0),
        ttfb_p50_ms: ms(quantile(&ttfbs, 0.5).unwrap_or_default()),
        ttfb_p99_ms: ms(quantile(&ttfbs, 0.99).unwrap_or_default()),
        ttfb_max_ms: ttfbs.last().copied().map(ms).unwrap_or(0.0),
        join_rate_target: cfg.rate,
        joins_per_s,
        join_s: timing.join.as_secs_f64(),
        window_s,
        blocks,
        titled_blocks: titled,
        title_changes: changes,
        titles,
        server,
        server_error,
        generator: SelfFigures {
            cpu_pct: timing.self_cpu / window_s * 100.0,
            join_cpu_pct: timing.self_join_cpu / timing.join.as_secs_f64().max(1e-3) * 100.0,
            rss_kib: timing.self_rss,
            fd_limit,
        },
    })
}

fn dump(
    path: &std::path::Path,
    slots: &[Slot],
    t0: Instant,
    window: Duration,
) -> anyhow::Result<()> {
    use std::fmt::Write as _;
    let ms = |t: Option<Instant>| {
        t.map(|t| {
            format!(
                "{:.1}",
                t.saturating_duration_since(t0).as_secs_f64() * 1000.0
            )
        })
        .unwrap_or_default()
    };
    let mut out = String::from(
        "listener,start_ms,connected_ms,head_ms,first_audio_ms,max_gap_ms,max_gap_start_ms,kbps,failure\n",
    );
    for (i, s) in slots.iter().enumerate() {
        let bytes = s.audio_bytes.get().saturating_sub(s.window_start.get());
        let _ = writeln!(
            out,
            "{i},{},{},{},{},{:.1},{},{:.1},{}",
            ms(s.start.get()),
            ms(s.connected.get()),
            ms(s.head.get()),
            ms(s.first_audio.get()),
            s.max_gap.get().as_secs_f64() * 1000.0,
            ms(s.max_gap_start.get()),
            bytes as f64 * 8.0 / 1000.0 / window.as_secs_f64(),
            s.failure
                .get()
                .map(|f| format!("{f:?}"))
                .unwrap_or_default()
        );
    }
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// The nearest-rank quantile of sorted values.
fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

struct Timing {
    t0: Instant,
    join: Duration,
    join_lag: Duration,
    server_join_cpu: f64,
    window: Duration,
    server_cpu: Option<(f64, f64)>,
    server_rss_end: Option<u64>,
    server_error: Option<String>,
    self_cpu: f64,
    self_join_cpu: f64,
    self_rss: u64,
}

async fn drive(
    cfg: &LoadConfig,
    shared: Rc<Shared>,
    measure_server: bool,
) -> anyhow::Result<Timing> {
    let cpu_t0 = proc_cpu(std::process::id());
    let server_t0 = cfg.server_pid.filter(|_| measure_server).map(proc_cpu);
    let t0 = Instant::now();
    let n = shared.slots.len();
    let rate = if cfg.rate > 0.0 {
        cfg.rate
    } else {
        f64::INFINITY
    };
    let mut join_lag = Duration::ZERO;
    for i in 0..n {
        let due = t0 + Duration::from_secs_f64(i as f64 / rate);
        let now = Instant::now();
        if due > now {
            tokio::time::sleep_until(due.into()).await;
        } else {
            join_lag = join_lag.max(now - due);
        }
        tokio::task::spawn_local(listener(shared.clone(), i));
    }
    // Every listener streaming or failed; the timeout bounds it.
    let give_up = Instant::now() + cfg.timeout + Duration::from_secs(1);
    while !shared.slots.iter().all(Slot::settled) && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let join = t0.elapsed();
    let self_join_cpu = cpu_delta(&cpu_t0, &proc_cpu(std::process::id()));
    let server_join_cpu = match (&server_t0, cfg.server_pid) {
        (Some(a), Some(pid)) => cpu_delta(a, &proc_cpu(pid)),
        _ => 0.0,
    };
    tokio::time::sleep(cfg.settle).await;

    let server_at = |pid: Option<u32>| pid.filter(|_| measure_server).map(proc_cpu);
    let sv0 = server_at(cfg.server_pid);
    let me0 = proc_cpu(std::process::id());
    let w0 = Instant::now();
    shared.window.set(Some(w0));
    for slot in &shared.slots {
        slot.window_start.set(slot.audio_bytes.get());
    }
    tokio::time::sleep(cfg.window).await;
    let w1 = Instant::now();
    let sv1 = server_at(cfg.server_pid);
    let me1 = proc_cpu(std::process::id());
    let server_rss_end = cfg
        .server_pid
        .filter(|_| measure_server)
        .and_then(|pid| proc_rss_kib(pid).ok());
    // The silence up to the end of the window counts too.
    for slot in &shared.slots {
        if slot.failure.get().is_none()
            && let Some(last) = slot.last_read.get()
        {
            slot.gap(w1.duration_since(last), w1, Some(w0));
        }
    }
    let (server_cpu, server_error) = match (sv0, sv1) {
        (Some(Ok(a)), Some(Ok(b))) => (Some((b.0 - a.0, b.1 - a.1)), None),
        (Some(Err(e)), _) | (_, Some(Err(e))) => (None, Some(format!("{e:#}"))),
        _ => (None, None),
    };
    let self_cpu = cpu_delta(&me0, &me1);
    Ok(Timing {
        t0,
        join,
        join_lag,
        server_join_cpu,
        window: w1.duration_since(w0),
        server_cpu,
        server_rss_end,
        server_error,
        self_cpu,
        self_join_cpu,
        self_rss: proc_rss_kib(std::process::id()).unwrap_or(0),
    })
}

fn cpu_delta(a: &anyhow::Result<(f64, f64)>, b: &anyhow::Result<(f64, f64)>) -> f64 {
    match (a, b) {
        (Ok(a), Ok(b)) => (b.0 + b.1) - (a.0 + a.1),
        _ => 0.0,
    }
}

async fn listener(shared: Rc<Shared>, i: usize) {
    let slot = &shared.slots[i];
    let source = shared.sources.get(i % shared.sources.len().max(1)).copied();
    if let Err(f) = listen(&shared, slot, source).await {
        slot.fail(f);
    }
}

/// Streams until it fails (or its task is dropped at the end of the run).
async fn listen(shared: &Shared, slot: &Slot, source: Option<IpAddr>) -> Result<(), Failure> {
    let start = Instant::now();
    slot.start.set(Some(start));
    let deadline = tokio::time::Instant::from(start + shared.timeout);
    let connect = tokio::time::timeout_at(deadline, connect(shared.addr, source)).await;
    let mut stream = match connect {
        Err(_) => {
            shared.note_error(|| "connect timed out".into());
            return Err(Failure::Timeout);
        }
        Ok(Err(e)) => {
            shared.note_error(|| format!("connect: {e}"));
            return Err(Failure::of_io(&e));
        }
        Ok(Ok(s)) => s,
    };
    slot.connected.set(Some(Instant::now()));
    if let Err(e) = stream.write_all(&shared.request).await {
        shared.note_error(|| format!("sending the request: {e}"));
        return Err(Failure::of_io(&e));
    }
    let mut body = Body::new();
    loop {
        if slot.first_audio.get().is_none() {
            match tokio::time::timeout_at(deadline, stream.readable()).await {
                Err(_) => {
                    shared.note_error(|| "no audio within the timeout".into());
                    return Err(Failure::Timeout);
                }
                Ok(r) => r.map_err(|e| Failure::of_io(&e))?,
            }
        } else {
            stream.readable().await.map_err(|e| Failure::of_io(&e))?;
        }
        // Drain the socket into the shared buffer; no await while it is borrowed.
        SCRATCH_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            loop {
                match stream.try_read(&mut buf) {
                    Ok(0) => {
                        shared.note_error(|| "the server closed a stream".into());
                        return Err(Failure::Closed);
                    }
                    Ok(n) => {
                        let now = Instant::now();
                        if let Some(last) = slot.last_read.get() {
                            slot.gap(now.duration_since(last), now, shared.window.get());
                        }
                        slot.last_read.set(Some(now));
                        for piece in buf[..n].chunks(FEED) {
                            body.feed(piece, |item| on_item(shared, slot, start, now, item))?;
                        }
                        if n < buf.len() {
                            // A short read emptied the socket: clear its readiness without
                            // the read that would say WouldBlock (half the receive syscalls).
                            // Safe on one thread: bytes arriving after the read raise a new
                            // edge, which tokio records after this clear.
                            let _ = stream.try_io(Interest::READABLE, || {
                                Err::<(), _>(ErrorKind::WouldBlock.into())
                            });
                            return Ok(());
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        shared.note_error(|| format!("reading: {e}"));
                        return Err(Failure::of_io(&e));
                    }
                }
            }
        })?;
    }
}

/// Connects, from `source` (any free port) when given.
async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(ip) = source else {
        return TcpStream::connect(addr).await;
    };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    // Ports of the previous run's connections, in TIME_WAIT, may be taken again.
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(addr).await
}

fn on_item(
    shared: &Shared,
    slot: &Slot,
    start: Instant,
    now: Instant,
    item: Item,
) -> Result<(), Failure> {
    match item {
        Item::Reply(reply) => {
            slot.head.set(Some(now));
            if !reply.is_success() {
                shared.note_error(|| format!("reply {} {}", reply.status, reply.reason));
                return Err(Failure::Status(reply.status));
            }
        }
        Item::Audio { data, .. } => {
            if slot.first_audio.get().is_none() && !data.is_empty() {
                slot.first_audio.set(Some(now));
                slot.ttfb.set(now.duration_since(start));
            }
            Slot::add(&slot.audio_bytes, data.len() as u64);
        }
        Item::Metadata { metadata, .. } => {
            Slot::add(&slot.blocks, 1);
            if let Some(title) = metadata.and_then(|m| m.stream_title) {
                Slot::add(&slot.titled, 1);
                let mut h = DefaultHasher::new();
                title.hash(&mut h);
                let h = h.finish() | 1; // 0 means no title yet
                let before = slot.title_hash.replace(h);
                if before != 0 && before != h {
                    Slot::add(&slot.title_changes, 1);
                }
                if before != h {
                    let mut titles = shared.titles.borrow_mut();
                    if titles.len() < MAX_TITLES && !titles.contains(&title) {
                        titles.insert(title);
                    }
                }
            }
        }
        Item::Request(_) => return Err(Failure::Parse),
    }
    Ok(())
}

/// A reply body: the ICY decoder, behind a de-chunker when the reply says
/// `transfer-encoding: chunked` (an HTTP/1.1 server may frame a streamed body so).
struct Body {
    decoder: Decoder,
    chunked: Option<Dechunker>,
}

impl Body {
    fn new() -> Self {
        Body {
            decoder: Decoder::reply(),
            chunked: None,
        }
    }

    /// Feeds raw bytes of the connection; `on` gets every item.
    fn feed(
        &mut self,
        data: &[u8],
        mut on: impl FnMut(Item) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        match &mut self.chunked {
            Some(d) => {
                let dec = &mut self.decoder;
                d.feed(data, |piece| dec.feed(piece))
                    .map_err(|()| Failure::Parse)?;
            }
            None => self.decoder.feed(data),
        }
        self.drain(&mut on)
    }

    fn drain(&mut self, on: &mut impl FnMut(Item) -> Result<(), Failure>) -> Result<(), Failure> {
        loop {
            let item = match self.decoder.next() {
                Ok(Some(item)) => item,
                Ok(None) => return Ok(()),
                Err(_) => return Err(Failure::Parse),
            };
            if let Item::Reply(reply) = &item
                && reply.is_success()
                && reply
                    .header("transfer-encoding")
                    .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
            {
                let metaint = reply.metaint().map_err(|_| Failure::Parse)?;
                let rest = std::mem::replace(&mut self.decoder, Decoder::body(metaint)).into_rest();
                let mut d = Dechunker::default();
                let dec = &mut self.decoder;
                d.feed(&rest, |piece| dec.feed(piece))
                    .map_err(|()| Failure::Parse)?;
                self.chunked = Some(d);
            }
            on(item)?;
        }
    }
}

/// HTTP/1.1 chunked transfer decoding, incremental.
#[derive(Debug, Default)]
struct Dechunker {
    state: ChunkState,
    size: u64,
    digits: u8,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    Trailer,
    Done,
}

impl Dechunker {
    fn feed(&mut self, mut data: &[u8], mut out: impl FnMut(&[u8])) -> Result<(), ()> {
        while let Some(&b) = data.first() {
            match self.state {
                ChunkState::Size => {
                    let digit = (b as char).to_digit(16);
                    match (digit, b) {
                        (Some(d), _) => {
                            self.digits += 1;
                            if self.digits > 15 {
                                return Err(());
                            }
                            self.size = self.size * 16 + u64::from(d);
                        }
                        (None, b';' | b' ' | b'\t') if self.digits > 0 => {
                            self.state = ChunkState::Ext
                        }
                        (None, b'\r') if self.digits > 0 => self.state = ChunkState::SizeLf,
                        (None, b'\n') if self.digits > 0 => self.end_size(),
                        _ => return Err(()),
                    }
                    data = &data[1..];
                }
                ChunkState::Ext => {
                    if b == b'\n' {
                        self.end_size();
                    }
                    data = &data[1..];
                }
                ChunkState::SizeLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.end_size();
                    data = &data[1..];
                }
                ChunkState::Data => {
                    let n = (self.size as usize).min(data.len());
                    out(&data[..n]);
                    self.size -= n as u64;
                    data = &data[n..];
                    if self.size == 0 {
                        self.state = ChunkState::DataCr;
                    }
                }
                ChunkState::DataCr => {
                    self.state = match b {
                        b'\r' => ChunkState::DataLf,
                        b'\n' => ChunkState::Size,
                        _ => return Err(()),
                    };
                    data = &data[1..];
                }
                ChunkState::DataLf => {
                    if b != b'\n' {
                        return Err(());
                    }
                    self.state = ChunkState::Size;
                    data = &data[1..];
                }
                ChunkState::Trailer | ChunkState::Done => {
                    // The last chunk: the stream is over; whatever follows is ignored.
                    self.state = ChunkState::Done;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn end_size(&mut self) {
        self.digits = 0;
        self.state = if self.size == 0 {
            ChunkState::Trailer
        } else {
            ChunkState::Data
        };
    }
}

// ---------------------------------------------------------------------------------------------
// /proc

/// (user, system) CPU seconds of a process, from `/proc/PID/stat`.
pub fn proc_cpu(pid: u32) -> anyhow::Result<(f64, f64)> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let after = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .with_context(|| format!("{path}: no command name"))?;
    // Fields 14 and 15 (utime, stime); field 3 (state) is the first after the name.
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .with_context(|| format!("{path}: short"))?
            .parse::<u64>()
            .with_context(|| format!("{path}: field {}", i + 3))? as f64)
    };
    let hz = rustix::param::clock_ticks_per_second() as f64;
    Ok((ticks(11)? / hz, ticks(12)? / hz))
}

/// VmRSS of a process, KiB.
pub fn proc_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("{path}: no VmRSS"))
}

// ---------------------------------------------------------------------------------------------
// Relay latency

/// One stream's audio, with when each piece arrived.
#[derive(Debug, Default)]
pub struct Recording {
    /// The URL.
    pub url: String,
    /// When the connection was started.
    pub start: Option<Instant>,
    /// The audio bytes, metadata removed.
    pub audio: Vec<u8>,
    /// (audio length after a read, when that read returned).
    pub arrivals: Vec<(usize, Instant)>,
    /// Metadata blocks seen.
    pub blocks: u64,
}

impl Recording {
    /// When the byte at `offset` arrived.
    pub fn arrival_of(&self, offset: usize) -> Option<Instant> {
        let i = self.arrivals.partition_point(|&(end, _)| end <= offset);
        self.arrivals.get(i).map(|&(_, t)| t)
    }

    /// Where the first byte after `t` starts (the audio length before the first read after t).
    fn offset_after(&self, t: Instant) -> Option<usize> {
        let i = self.arrivals.partition_point(|&(_, at)| at < t);
        self.arrivals.get(i)?;
        Some(if i == 0 { 0 } else { self.arrivals[i - 1].0 })
    }
}

/// Records the audio of `url` until `until`.
pub async fn record(url: &str, until: Instant) -> anyhow::Result<Recording> {
    let target = Target::parse(url)?;
    let addr = target.resolve().await?;
    let mut rec = Recording {
        url: url.to_string(),
        start: Some(Instant::now()),
        ..Recording::default()
    };
    let mut stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    stream.write_all(&target.request()).await?;
    let mut body = Body::new();
    let mut buf = vec![0u8; 16 * 1024];
    let deadline = tokio::time::Instant::from(until);
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Ok(rec),
            Ok(r) => r.with_context(|| format!("reading {url}"))?,
        };
        anyhow::ensure!(n > 0, "{url} closed the stream");
        let now = Instant::now();
        let mut status = None;
        body.feed(&buf[..n], |item| {
            match item {
                Item::Reply(r) if !r.is_success() => status = Some(r.status),
                Item::Audio { data, .. } => rec.audio.extend_from_slice(&data),
                Item::Metadata { .. } => rec.blocks += 1,
                _ => {}
            }
            Ok(())
        })
        .map_err(|f| anyhow::anyhow!("{url}: {f:?}"))?;
        if let Some(s) = status {
            anyhow::bail!("{url} answered {s}");
        }
        rec.arrivals.push((rec.audio.len(), now));
    }
}

/// Latency added by one hop of a relay chain.
#[derive(Debug, Clone, Serialize)]
pub struct HopLatency {
    /// Upstream URL.
    pub from: String,
    /// The relay's URL.
    pub to: String,
    /// Samples found in both streams.
    pub samples: usize,
    /// Median, ms.
    pub p50_ms: f64,
    /// Max, ms.
    pub max_ms: f64,
    /// Min, ms.
    pub min_ms: f64,
}

/// The relay chain's figures.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    /// One per hop.
    pub hops: Vec<HopLatency>,
    /// First to last server.
    pub total: Option<HopLatency>,
    /// Windows of the first stream taken.
    pub windows: usize,
    /// Of which were not unique in the first stream, or not found (once) downstream.
    pub skipped: usize,
    /// Audio bytes recorded per stream.
    pub bytes: Vec<usize>,
}

impl LatencyReport {
    /// Lines for people.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let line = |h: &HopLatency| {
            format!(
                "{} -> {}: p50 {:.1} ms, max {:.1} ms, min {:.1} ms ({} samples)\n",
                h.from, h.to, h.p50_ms, h.max_ms, h.min_ms, h.samples
            )
        };
        for h in &self.hops {
            s.push_str(&format!("hop {}", line(h)));
        }
        if let Some(t) = &self.total {
            s.push_str(&format!("chain {}", line(t)));
        }
        s.push_str(&format!(
            "{} windows of 64 bytes, {} skipped (not unique or not found); audio bytes per stream {:?}\n",
            self.windows, self.skipped, self.bytes
        ));
        s
    }
}

/// Bytes compared per sample.
pub const WINDOW: usize = 64;

/// One listener per URL for `seconds`; then windows of the first stream's audio, one every
/// `every` from `skip` after it started, found in the others.
pub async fn run_latency(
    urls: &[String],
    seconds: Duration,
    skip: Duration,
    every: Duration,
) -> anyhow::Result<LatencyReport> {
    anyhow::ensure!(urls.len() >= 2, "a relay chain needs two URLs or more");
    let until = Instant::now() + seconds;
    let recs = futures_util::future::try_join_all(urls.iter().map(|u| record(u, until))).await?;
    Ok(latency_of(&recs, skip, every))
}

/// Compares recordings of a chain (see [`run_latency`]).
pub fn latency_of(recs: &[Recording], skip: Duration, every: Duration) -> LatencyReport {
    let first = &recs[0];
    let mut per_hop: Vec<Vec<f64>> = vec![Vec::new(); recs.len() - 1];
    let mut total = Vec::new();
    let (mut windows, mut skipped) = (0, 0);
    let start = first.start.unwrap_or_else(Instant::now);
    let step = every.max(Duration::from_millis(10));
    let mut k = 0u32;
    'samples: while let Some(at) = first.offset_after(start + skip + step * k) {
        k += 1;
        let Some(window) = first.audio.get(at..at + WINDOW) else {
            break;
        };
        windows += 1;
        if find_unique(&first.audio, window) != Some(at) {
            skipped += 1;
            continue;
        }
        let mut times = Vec::with_capacity(recs.len());
        for rec in recs {
            let Some(t) =
                find_unique(&rec.audio, window).and_then(|o| rec.arrival_of(o + WINDOW - 1))
            else {
                skipped += 1;
                continue 'samples;
            };
            times.push(t);
        }
        let signed_ms = |a: Instant, b: Instant| {
            if b >= a {
                b.duration_since(a).as_secs_f64() * 1000.0
            } else {
                -(a.duration_since(b).as_secs_f64() * 1000.0)
            }
        };
        for (i, w) in times.windows(2).enumerate() {
            per_hop[i].push(signed_ms(w[0], w[1]));
        }
        total.push(signed_ms(times[0], times[times.len() - 1]));
    }
    let summary = |from: &str, to: &str, mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        HopLatency {
            from: from.to_string(),
            to: to.to_string(),
            samples: v.len(),
            p50_ms: quantile(&v, 0.5).unwrap_or(f64::NAN),
            max_ms: v.last().copied().unwrap_or(f64::NAN),
            min_ms: v.first().copied().unwrap_or(f64::NAN),
        }
    };
    let hops = per_hop
        .into_iter()
        .enumerate()
        .map(|(i, v)| summary(&recs[i].url, &recs[i + 1].url, v))
        .collect();
    let total = (recs.len() > 2).then(|| summary(&first.url, &recs[recs.len() - 1].url, total));
    LatencyReport {
        hops,
        total,
        windows,
        skipped,
        bytes: recs.iter().map(|r| r.audio.len()).collect(),
    }
}

/// The offset of `needle` in `hay` if it occurs exactly once.
fn find_unique(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut found = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i);
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dechunks_any_split() {
        let wire = b"4\r\nabcd\r\n3;ext=1\r\nefg\r\nA\r\n0123456789\r\n0\r\n\r\n";
        for split in 0..wire.len() {
            let mut d = Dechunker::default();
            let mut out = Vec::new();
            d.feed(&wire[..split], |p| out.extend_from_slice(p))
                .unwrap();
            d.feed(&wire[split..], |p| out.extend_from_slice(p))
                .unwrap();
            assert_eq!(out, b"abcdefg0123456789", "split at {split}");
            assert_eq!(d.state, ChunkState::Done);
        }
        assert!(Dechunker::default().feed(b"zz\r\n", |_| {}).is_err());
    }

    #[test]
    fn chunked_icy_body_decodes() {
        // An HTTP/1.1 reply with a chunked body of two segments (metaint 8).
        let mut body = Vec::new();
        let meta = icy::Metadata::title("A - B");
        icy::encode_segment(b"01234567", Some(&meta), &mut body).unwrap();
        icy::encode_segment(b"89abcdef", None, &mut body).unwrap();
        let mut wire =
            b"HTTP/1.1 200 OK\r\nicy-metaint: 8\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for c in body.chunks(5) {
            wire.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
            wire.extend_from_slice(c);
            wire.extend_from_slice(b"\r\n");
        }
        for piece in [1, 3, 7, 1000] {
            let mut b = Body::new();
            let (mut audio, mut titles, mut blocks) = (Vec::new(), Vec::new(), 0);
            for p in wire.chunks(piece) {
                b.feed(p, |item| {
                    match item {
                        Item::Audio { data, .. } => audio.extend_from_slice(&data),
                        Item::Metadata { metadata, .. } => {
                            blocks += 1;
                            titles.extend(metadata.and_then(|m| m.stream_title));
                        }
                        _ => {}
                    }
                    Ok(())
                })
                .unwrap();
            }
            assert_eq!(audio, b"0123456789abcdef");
            assert_eq!(blocks, 2);
            assert_eq!(titles, ["A - B"]);
        }
    }

    #[test]
    fn parses_urls() {
        let t = Target::parse("http://127.0.0.1:8000/live/lounge").unwrap();
        assert_eq!(t.authority, "127.0.0.1:8000");
        assert_eq!(t.path, "/live/lounge");
        assert_eq!(
            Target::parse("http://example").unwrap().authority,
            "example:80"
        );
        assert!(Target::parse("https://x/").is_err());
        let req = String::from_utf8(t.request()).unwrap();
        assert!(req.starts_with("GET /live/lounge HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("Icy-MetaData: 1\r\n"), "{req}");
    }

    #[test]
    fn finds_unique_windows() {
        assert_eq!(find_unique(b"abcabd", b"abd"), Some(3));
        assert_eq!(find_unique(b"abcabc", b"abc"), None);
        assert_eq!(find_unique(b"abc", b"x"), None);
    }

    #[test]
    fn reads_own_proc() {
        let (u, s) = proc_cpu(std::process::id()).unwrap();
        assert!(u >= 0.0 && s >= 0.0);
        assert!(proc_rss_kib(std::process::id()).unwrap() > 0);
    }
}
