//! A channel's listeners: sockets at positions in the ring, started with their reply head and
//! burst in one write, then written in batches by the distributor.
//!
//! A listener has no task and no buffer of its own. Each distribution gives every listener one
//! vectored, non-blocking write of the ring from its position to the live edge.

use std::io::{self, IoSlice, Write};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use grid_proto::icy::{self, IcyReply, Protocol};
use grid_proto::live::PATH_HEADER;
use tracing::info;

use super::config::ChannelConfig;
use super::ring::Ring;

/// A listener's send buffer holds about its burst at 320 kbit/s...
const SNDBUF_BYTES_PER_MS: usize = 40;
/// ...and at least this...
const SNDBUF_MIN: usize = 16 * 1024;
/// ...and at most this (the kernel doubles it for its bookkeeping).
const SNDBUF_MAX: usize = 256 * 1024;
/// Above this many listeners a channel is busy: each listener is written once a round of
/// [`BUSY_ROUND`] rather than at every distribution, in slots spread over the round, since the
/// kernel's cost per write, not per byte, is most of a listener's cost.
pub const BUSY_LISTENERS: usize = 500;
/// How often a busy channel writes to each listener.
pub const BUSY_ROUND: Duration = Duration::from_secs(1);
/// Joins and leaves are logged together at most this often.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// One listener: its socket (non-blocking, not registered with the reactor: it is only ever
/// written on the distributor's tick), its position in its stream and what it was sent.
#[derive(Debug)]
struct Listener {
    socket: std::net::TcpStream,
    pos: u64,
    bytes_out: u64,
    icy: bool,
    /// Which of a round's distributions write to it, when a busy channel writes each listener
    /// once a round ([`BUSY_LISTENERS`]).
    slot: u8,
    /// A relay child of the tree: its URL. Written at every distribution, busy or not.
    child: Option<String>,
}

/// A new listener whose reply head did not fit its socket at once: what is left to send before
/// it is added.
#[derive(Debug)]
pub(crate) struct HeadLeft {
    pub(crate) socket: std::net::TcpStream,
    /// Its position in the ring once the head is sent.
    pub(crate) pos: u64,
    pub(crate) rest: Bytes,
    pub(crate) child: Option<String>,
}

/// A channel's listeners and what they were sent.
#[derive(Debug)]
pub(crate) struct Listeners {
    list: Vec<Listener>,
    /// Listeners served through the HTTP stack (the slow path), counted only.
    http: u64,
    peak: u64,
    joins: u64,
    bytes_out: u64,
    cut_offs: u64,
    /// Distributions so far (the slot of a busy channel's round).
    distributions: u64,
    joins_logged: u64,
    leaves_unlogged: u64,
    last_log: Instant,
}

/// Bounds a new listener's send buffer: a listener that stops reading stops taking bytes after
/// about the burst (so it is cut off after about lag_ms), and the kernel holds little for it.
pub(crate) fn limit_send_buffer(socket: &std::net::TcpStream, burst_ms: u64) {
    let sndbuf = (burst_ms as usize * SNDBUF_BYTES_PER_MS).clamp(SNDBUF_MIN, SNDBUF_MAX);
    if let Err(e) = socket2::SockRef::from(socket).set_send_buffer_size(sndbuf) {
        tracing::debug!("cannot set SO_SNDBUF: {e}");
    }
}

/// The channel's ICY headers, as both the front's reply head and the HTTP stack's reply send
/// them (`close`: with `connection: close`, which the HTTP stack sets itself).
pub(crate) fn icy_headers(
    config: &ChannelConfig,
    bitrate_kbps: u32,
    icy: bool,
    close: bool,
) -> Vec<(&'static str, String)> {
    let mut h = vec![
        ("content-type", "audio/mpeg".to_owned()),
        ("icy-name", config.name.clone()),
        ("icy-description", config.description.clone()),
        ("icy-genre", config.genre.clone()),
        ("icy-br", bitrate_kbps.to_string()),
        ("icy-pub", "0".to_owned()),
        ("cache-control", "no-cache".to_owned()),
    ];
    if close {
        h.push(("connection", "close".to_owned()));
    }
    if icy {
        h.push(("icy-metaint", config.metaint.to_string()));
    }
    h
}

/// A new listener's reply head: `headers`, and for a relay child the tree `path` down to this
/// copy. An ICY listener asking in HTTP/1.0 is answered `ICY 200 OK`.
pub(crate) fn reply_head(
    protocol: Protocol,
    icy: bool,
    headers: &[(&'static str, String)],
    path: Option<&str>,
) -> Bytes {
    let status = match (icy, protocol) {
        (true, Protocol::Http10) => Protocol::Icy,
        (_, Protocol::Http10) => Protocol::Http10,
        _ => Protocol::Http11,
    };
    let mut reply = IcyReply::new(status, 200, "OK");
    for (name, value) in headers {
        reply = reply.with_header(name, value);
    }
    if let Some(path) = path {
        reply = reply.with_header(PATH_HEADER, path);
    }
    let mut out = BytesMut::with_capacity(320);
    icy::encode_reply(&reply, &mut out);
    out.freeze()
}

impl Listeners {
    pub(crate) fn new() -> Self {
        Listeners {
            list: Vec::new(),
            http: 0,
            peak: 0,
            joins: 0,
            bytes_out: 0,
            cut_offs: 0,
            distributions: 0,
            joins_logged: 0,
            leaves_unlogged: 0,
            last_log: Instant::now(),
        }
    }

    /// Starts a listener at `pos` of `ring`: its `head` and the ring from `pos` in one write.
    /// Added when the head went whole; else what is left of the head is handed back.
    pub(crate) fn start(
        &mut self,
        ring: &Ring,
        socket: std::net::TcpStream,
        head: &Bytes,
        pos: u64,
        icy: bool,
        child: Option<String>,
    ) -> io::Result<Option<HeadLeft>> {
        let mut iov = Vec::with_capacity(32);
        iov.push(IoSlice::new(head));
        ring.slices(pos, icy, &mut iov);
        let written = match (&socket).write_vectored(&iov) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
            Err(e) => return Err(e),
        };
        if written >= head.len() {
            let sent = (written - head.len()) as u64;
            self.add(socket, pos + sent, sent, icy, child);
            return Ok(None);
        }
        Ok(Some(HeadLeft {
            socket,
            pos,
            rest: head.slice(written..),
            child,
        }))
    }

    /// Adds a listener at `pos` that was sent `bytes_out` already.
    pub(crate) fn add(
        &mut self,
        socket: std::net::TcpStream,
        pos: u64,
        bytes_out: u64,
        icy: bool,
        child: Option<String>,
    ) {
        self.bytes_out += bytes_out;
        self.list.push(Listener {
            socket,
            pos,
            bytes_out,
            icy,
            slot: (self.joins % 64) as u8,
            child,
        });
        self.joins += 1;
        self.peak = self.peak.max(self.list.len() as u64);
    }

    /// The relay children's URLs.
    pub(crate) fn children(&self) -> impl Iterator<Item = &str> {
        self.list.iter().filter_map(|l| l.child.as_deref())
    }

    /// Drops relay children whose connection has closed (a killed relay's socket reads as
    /// ended; nothing else is ever sent on it) and the child called `stale` if any.
    pub(crate) fn prune_children(&mut self, channel: &str, stale: Option<&str>) {
        let mut i = 0;
        while i < self.list.len() {
            let l = &self.list[i];
            let Some(url) = &l.child else {
                i += 1;
                continue;
            };
            let gone = stale == Some(url.as_str())
                || match l.socket.peek(&mut [0u8; 1]) {
                    Ok(0) => true,
                    Ok(_) => false,
                    Err(e) => e.kind() != io::ErrorKind::WouldBlock,
                };
            if gone {
                info!("{channel}: relay child {url} left");
                self.list.swap_remove(i);
                self.leaves_unlogged += 1;
            } else {
                i += 1;
            }
        }
    }

    /// Writes to listeners from `*next` on, at most `batch` of them, from `ring`; true when all
    /// are done. A listener that fell out of the ring is cut off (counted in `cut`), one whose
    /// connection failed dropped. A busy channel writes only this distribution's slot of its
    /// `round`.
    pub(crate) fn write_batch(
        &mut self,
        ring: &Ring,
        next: &mut usize,
        batch: usize,
        cut: &mut u64,
        round: u64,
    ) -> bool {
        let oldest = [ring.oldest(false), ring.oldest(true)];
        let edge = [ring.edge(false), ring.edge(true)];
        if *next == 0 {
            self.distributions += 1;
        }
        let slot = (self.list.len() > BUSY_LISTENERS).then(|| (self.distributions % round) as u8);
        let mut iov: Vec<IoSlice<'_>> = Vec::with_capacity(16);
        let stop = next.saturating_add(batch);
        while *next < self.list.len() && *next < stop {
            let l = &mut self.list[*next];
            let mode = usize::from(l.icy);
            if l.pos < oldest[mode] {
                *cut += 1;
                self.cut_offs += 1;
                self.leaves_unlogged += 1;
                let gone = self.list.swap_remove(*next);
                if let Some(url) = gone.child {
                    info!("a relay child {url} was cut off (too far behind)");
                }
                continue;
            }
            if l.pos >= edge[mode]
                || (l.child.is_none() && slot.is_some_and(|s| s != l.slot % round as u8))
            {
                *next += 1;
                continue;
            }
            iov.clear();
            ring.slices(l.pos, l.icy, &mut iov);
            match (&l.socket).write_vectored(&iov) {
                Ok(n) if n > 0 => {
                    l.pos += n as u64;
                    l.bytes_out += n as u64;
                    self.bytes_out += n as u64;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                // Gone (EPIPE, ECONNRESET...).
                _ => {
                    self.leaves_unlogged += 1;
                    let gone = self.list.swap_remove(*next);
                    if let Some(url) = gone.child {
                        info!("relay child {url} left");
                    }
                    continue;
                }
            }
            *next += 1;
        }
        *next >= self.list.len()
    }

    /// Logs joins and leaves since the last such line, at most every 10 s and only if any.
    pub(crate) fn log(&mut self, channel: &str) {
        if self.last_log.elapsed() < LOG_EVERY {
            return;
        }
        let joined = self.joins - self.joins_logged;
        let left = self.leaves_unlogged;
        if joined + left > 0 {
            info!(
                "{channel}: {} listeners (+{joined} −{left} in {} s)",
                self.list.len(),
                self.last_log.elapsed().as_secs()
            );
        }
        self.joins_logged = self.joins;
        self.leaves_unlogged = 0;
        self.last_log = Instant::now();
    }

    /// Closes every listener (at a stop).
    pub(crate) fn close_all(&mut self) {
        self.list.clear();
    }

    /// A listener served through the HTTP stack joined.
    pub(crate) fn http_joined(&mut self) {
        self.joins += 1;
        self.http += 1;
    }

    /// A listener served through the HTTP stack left.
    pub(crate) fn http_left(&mut self) {
        self.http -= 1;
        self.leaves_unlogged += 1;
    }

    /// Bytes handed to a listener served through the HTTP stack.
    pub(crate) fn http_sent(&mut self, n: u64) {
        self.bytes_out += n;
    }

    /// A listener served through the HTTP stack fell out of the ring.
    pub(crate) fn http_cut_off(&mut self) {
        self.cut_offs += 1;
    }

    /// Listeners now, relay children and the HTTP stack's included.
    pub(crate) fn count(&self) -> u64 {
        self.list.len() as u64 + self.http
    }

    /// The most listeners at once (the HTTP stack's not counted).
    pub(crate) fn peak(&self) -> u64 {
        self.peak
    }

    /// Listeners that joined.
    pub(crate) fn joins(&self) -> u64 {
        self.joins
    }

    /// Bytes written to listeners.
    pub(crate) fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// Listeners cut off.
    pub(crate) fn cut_offs(&self) -> u64 {
        self.cut_offs
    }
}
