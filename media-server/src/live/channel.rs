//! A channel: its recent output (the [`Ring`]), its listeners, and the distributor that writes
//! to them.
//!
//! A listener is a socket and a position in one of the ring's two streams; it has no task and
//! no buffer of its own. Each tick the
//! distributor gives every listener one vectored, non-blocking write of the chunks from its
//! position to the live edge.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use grid_proto::icy::{self, IcyReply, IcyRequest, Protocol};
use grid_proto::live::{
    ChannelKind, ChannelStats, PATH_HEADER, RELAY_HEADER, SourceState, SourceStats, TreeStats,
};
use tokio::io::AsyncWriteExt;
use tracing::info;

use super::config::{ChannelConfig, Source};
use super::ring::Ring;
use super::udp_feed::UdpFeed;

/// Listeners written between two yields to the runtime, so accepts and API requests are not
/// held up by a long walk.
const BATCH: usize = 1024;
/// A new listener whose reply head does not fit its socket at once gets this long to take it.
const HEAD_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
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
/// How often a channel asks its relay children the size of their subtrees.
const CHILD_POLL: Duration = Duration::from_secs(1);
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

/// Counts a slow-path listener while its body lives.
#[derive(Debug)]
struct HttpListener(Arc<Channel>);

impl Drop for HttpListener {
    fn drop(&mut self) {
        let mut inner = self.0.lock();
        inner.http_listeners -= 1;
        inner.leaves_unlogged += 1;
    }
}

/// What is behind the channel's lock.
#[derive(Debug)]
struct Inner {
    ring: Ring,
    /// Of the current track (playlist) or the upstream (relay).
    bitrate_kbps: u32,
    listeners: Vec<Listener>,
    /// Listeners served through the HTTP stack ([`Channel::body_stream`]).
    http_listeners: u64,
    listeners_peak: u64,
    joins: u64,
    bytes_out: u64,
    cut_offs: u64,
    /// The source's numbers; its owner updates them.
    source: SourceStats,
    /// Distributions so far (the slot of a busy channel's round).
    distributions: u64,
    joins_logged: u64,
    leaves_unlogged: u64,
    last_log: Instant,
    /// The upstreams from the tree's root down to the parent (a relay's, learnt at connect).
    tree_path: Vec<String>,
    /// Relays redirected to a child; the next child a redirect goes to (round robin, so the
    /// tree stays balanced).
    redirects: u64,
    loops_refused: u64,
    /// Relays below each child that last answered as ours ([`Channel::keep_child_sizes`]).
    child_sizes: std::collections::HashMap<String, u64>,
}

/// A channel's numbers for `GET /metrics` ([`Channel::counters`]).
#[derive(Debug, Clone, Copy)]
pub struct ChannelCounters {
    /// Listeners now (relay children and slow-path listeners included).
    pub listeners: u64,
    /// Relay children now.
    pub relay_children: u64,
    /// UDP clients now.
    pub udp_clients: u64,
    /// Listeners that joined.
    pub joins: u64,
    /// Listeners cut off.
    pub cut_offs: u64,
    /// Bytes written to listeners.
    pub bytes_out: u64,
    /// Bytes sent to UDP clients.
    pub udp_bytes: u64,
    /// Relays redirected to a child.
    pub redirects: u64,
    /// Reconnects of the source.
    pub reconnects: u64,
}

/// A live channel.
#[derive(Debug)]
pub struct Channel {
    /// As declared.
    pub config: ChannelConfig,
    /// Where listeners (and relays) get it: `{server}/live/{name}`.
    url: String,
    /// The distributor's tick.
    tick: Duration,
    started: Instant,
    inner: Mutex<Inner>,
    /// A relay child joined: its size is asked at once.
    children_changed: tokio::sync::Notify,
    /// The control port's UDP clients of this channel, fed after each distribution.
    udp: UdpFeed,
}

impl Channel {
    /// A channel with nothing played yet, served at `url`.
    pub fn new(config: ChannelConfig, tick: Duration, url: String) -> Self {
        let upstream = match &config.source {
            Source::Relay { url, .. } | Source::Udp { url, .. } => Some(url.clone()),
            Source::Playlist { .. } => None,
        };
        let state = if upstream.is_some() {
            SourceState::Connecting
        } else {
            SourceState::Silent
        };
        let inner = Inner {
            ring: Ring::new(config.metaint, config.burst_ms + config.lag_ms),
            bitrate_kbps: 128,
            listeners: Vec::new(),
            http_listeners: 0,
            listeners_peak: 0,
            joins: 0,
            bytes_out: 0,
            cut_offs: 0,
            source: SourceStats {
                state,
                upstream,
                track_id: None,
                reconnects: 0,
                segments: 0,
                gaps: 0,
                duplicates: 0,
            },
            distributions: 0,
            joins_logged: 0,
            leaves_unlogged: 0,
            last_log: Instant::now(),
            tree_path: Vec::new(),
            redirects: 0,
            loops_refused: 0,
            child_sizes: std::collections::HashMap::new(),
        };
        Channel {
            config,
            url,
            tick,
            started: Instant::now(),
            inner: Mutex::new(inner),
            children_changed: tokio::sync::Notify::new(),
            udp: UdpFeed::default(),
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Runs while the server does: every second, asks each relay child how many relays are
    /// below it (its `tree.descendants`), for redirects to prefer the smallest subtree.
    pub async fn keep_child_sizes(self: Arc<Self>) {
        let Ok(client) = grid_proto::client::Client::with_timeout(
            "http://127.0.0.1",
            "a relay child",
            CHILD_POLL,
        ) else {
            return;
        };
        let mut every = tokio::time::interval(CHILD_POLL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = every.tick() => {}
                () = self.children_changed.notified() => {}
            }
            let children: Vec<String> = self.lock().children().map(str::to_owned).collect();
            let asks = children.iter().filter_map(|url| {
                let (base, name) = url.split_once("/live/")?;
                let client = client.for_base(base, "a relay child");
                let me = &self.url;
                Some(async move {
                    let stats = super::peer::peer_stats(&client, name).await?;
                    // Ours only if it says so: its parent is this copy.
                    (stats.tree.path.last() == Some(me))
                        .then(|| (url.clone(), stats.tree.descendants))
                })
            });
            let sizes: Vec<(String, u64)> = futures_util::future::join_all(asks)
                .await
                .into_iter()
                .flatten()
                .collect();
            // A child that did not answer (or not as ours) is not sent relays until it does.
            self.lock().child_sizes = sizes.into_iter().collect();
        }
    }

    /// Its UDP clients.
    pub(crate) fn udp(&self) -> &UdpFeed {
        &self.udp
    }

    /// A new UDP client at `to`, sent from `socket` what the channel produces from now on;
    /// returns its id.
    pub(crate) fn udp_add(
        &self,
        to: std::net::SocketAddr,
        socket: Arc<std::net::UdpSocket>,
    ) -> u64 {
        self.udp.add(|| self.lock().ring.plain_edge(), to, socket)
    }

    /// Its URL, which names it in the tree.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Playlist or relay.
    pub fn kind(&self) -> ChannelKind {
        match self.config.source {
            Source::Playlist { .. } => ChannelKind::Playlist,
            // A UDP source is a relay of an external sender.
            Source::Relay { .. } | Source::Udp { .. } => ChannelKind::Relay,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Milliseconds since the channel started: the clock of its chunks.
    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Appends audio, beginning at a frame boundary, to the channel's output.
    pub(crate) fn push_audio(&self, audio: Bytes) {
        let now_ms = self.now_ms();
        self.lock().ring.push(audio, true, now_ms);
    }

    /// The bitrate of the audio from now on (the reply heads' `icy-br`).
    pub(crate) fn set_bitrate(&self, kbps: u32) {
        self.lock().bitrate_kbps = kbps;
    }

    /// Sets the title every block from now on carries; true if it changed.
    pub(crate) fn set_title(&self, title: &str) -> bool {
        let mut inner = self.lock();
        let changed = inner.ring.title() != title;
        inner.ring.set_title(title);
        changed
    }

    /// A playlist's next track: its title, bitrate and id; the source plays.
    pub(crate) fn now_playing(&self, title: &str, bitrate_kbps: u32, track_id: &str) {
        let mut inner = self.lock();
        inner.ring.set_title(title);
        inner.bitrate_kbps = bitrate_kbps;
        inner.source.state = SourceState::Playing;
        inner.source.track_id = Some(track_id.to_owned());
    }

    /// A playlist with nothing to play: silent, with no track and no title.
    pub(crate) fn go_silent(&self) {
        let mut inner = self.lock();
        if inner.source.state != SourceState::Silent {
            inner.source.state = SourceState::Silent;
            inner.source.track_id = None;
            inner.ring.set_title("");
        }
    }

    /// Where the source gets its audio, if it has an upstream.
    pub(crate) fn upstream(&self) -> Option<String> {
        self.lock().source.upstream.clone()
    }

    /// The address a UDP source bound.
    pub(crate) fn set_upstream(&self, upstream: String) {
        self.lock().source.upstream = Some(upstream);
    }

    /// The source (re)connected to its upstream (`reconnect`: not for the first time).
    pub(crate) fn source_playing(&self, reconnect: bool) {
        let mut inner = self.lock();
        if reconnect {
            inner.source.reconnects += 1;
        }
        inner.source.state = SourceState::Playing;
    }

    /// The source lost its upstream: reconnecting, and out of the tree until it rejoins. False
    /// if it was not playing.
    pub(crate) fn source_lost(&self) -> bool {
        let mut inner = self.lock();
        if inner.source.state != SourceState::Playing {
            return false;
        }
        inner.source.state = SourceState::Reconnecting;
        inner.tree_path.clear();
        true
    }

    /// Segments (blocks of an upstream, datagrams) received.
    pub(crate) fn count_segments(&self, n: u64) {
        self.lock().source.segments += n;
    }

    /// A gap in the upstream's segment numbering.
    pub(crate) fn count_gap(&self) {
        self.lock().source.gaps += 1;
    }

    /// A segment number seen twice.
    pub(crate) fn count_duplicate(&self) {
        self.lock().source.duplicates += 1;
    }

    /// The upstreams from the tree's root down to the parent, as learnt at connect.
    pub(crate) fn set_tree_path(&self, path: Vec<String>) {
        self.lock().tree_path = path;
    }

    /// The tree above moved: `path` from now on, while connected; true if it changed.
    pub(crate) fn follow_tree_path(&self, path: Vec<String>) -> bool {
        let mut inner = self.lock();
        if inner.source.state == SourceState::Playing && inner.tree_path != path {
            inner.tree_path = path;
            return true;
        }
        false
    }

    /// A new listener: writes its reply head and burst at once, then hands it to the
    /// distributor. What follows the head on the connection is never read.
    pub async fn join(
        &self,
        socket: tokio::net::TcpStream,
        request: &IcyRequest,
    ) -> io::Result<()> {
        let icy = request.wants_metadata();
        let child = request.header(RELAY_HEADER).map(str::to_owned);
        let socket = socket.into_std()?;
        // A bounded send buffer: a listener that stops reading stops taking bytes after about
        // the burst (so it is cut off after about lag_ms), and the kernel holds little for it.
        let sndbuf =
            (self.config.burst_ms as usize * SNDBUF_BYTES_PER_MS).clamp(SNDBUF_MIN, SNDBUF_MAX);
        if let Err(e) = socket2::SockRef::from(&socket).set_send_buffer_size(sndbuf) {
            tracing::debug!("cannot set SO_SNDBUF: {e}");
        }
        let placed = {
            let mut inner = self.lock();
            // Decided under the lock the child is added under: two relays joining at once
            // cannot both take the last place.
            if let Some(answer) = child
                .as_deref()
                .and_then(|url| self.place_relay(&mut inner, url))
            {
                Err(answer)
            } else {
                let head = self.reply_head(&inner, request.protocol, icy, child.is_some());
                let pos = inner
                    .ring
                    .join_position(icy, self.now_ms(), self.config.burst_ms);
                let mut iov = Vec::with_capacity(32);
                iov.push(IoSlice::new(&head));
                inner.ring.slices(pos, icy, &mut iov);
                let written = match (&socket).write_vectored(&iov) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                    Err(e) => return Err(e),
                };
                if written >= head.len() {
                    let sent = (written - head.len()) as u64;
                    inner.add_listener(Listener {
                        socket,
                        pos: pos + sent,
                        bytes_out: sent,
                        icy,
                        slot: 0,
                        child,
                    });
                    return Ok(());
                }
                Ok((pos, head.slice(written..)))
            }
        };
        let (pos, head_left) = match placed {
            Ok(placed) => placed,
            Err(answer) => {
                let socket = tokio::net::TcpStream::from_std(socket)?;
                return answer.send(socket, request.protocol).await;
            }
        };
        // Rare: the head did not fit the socket at once; wait until it does.
        let mut socket = tokio::net::TcpStream::from_std(socket)?;
        tokio::time::timeout(
            HEAD_WRITE_TIMEOUT,
            tokio::io::AsyncWriteExt::write_all(&mut socket, &head_left),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "reply head not taken"))??;
        let socket = socket.into_std()?;
        let mut inner = self.lock();
        if child.is_some() && inner.children().count() >= self.config.max_children {
            // Its place went to another relay meanwhile: it rejoins.
            return Ok(());
        }
        inner.add_listener(Listener {
            socket,
            pos,
            bytes_out: 0,
            icy,
            slot: 0,
            child,
        });
        Ok(())
    }

    /// Where a relay asking to join goes: `None` to take it as a child, else the answer that
    /// sends it elsewhere. A relay that is this copy or one of its upstreams would close a
    /// loop (a tree fed by itself, with no source): refused. A child of the same URL is a
    /// stale entry (the relay lost us and came back) and is replaced; dead children are pruned
    /// first, so a full node whose child just died takes the newcomer itself. Only a source, or
    /// a relay connected to its upstream, takes children.
    fn place_relay(&self, inner: &mut Inner, url: &str) -> Option<RelayAnswer> {
        if url == self.url || inner.tree_path.iter().any(|p| p == url) {
            inner.loops_refused += 1;
            info!(
                "{}: relay {url} refused: it is upstream of this copy (a loop)",
                self.name()
            );
            return Some(RelayAnswer::Loop);
        }
        // A relay cut from its upstream is out of the tree: a relay joining it now would hang
        // under nothing (and two relays waiting for each other would take each other, a loop
        // with no source). It comes back when it is connected again.
        if matches!(self.config.source, Source::Relay { .. })
            && inner.source.state != SourceState::Playing
        {
            info!(
                "{}: relay {url} refused: not connected upstream",
                self.name()
            );
            return Some(RelayAnswer::NotConnected);
        }
        inner.prune_children(self.name(), Some(url));
        let children: Vec<&str> = inner.children().collect();
        let max = self.config.max_children;
        if children.len() < max {
            info!(
                "{}: relay child {url} joined ({} of {max})",
                self.name(),
                children.len() + 1
            );
            self.children_changed.notify_one();
            return None;
        }
        if children.is_empty() {
            return Some(RelayAnswer::NoRoom);
        }
        // Only to a child that said it is ours (a relay names itself; a name that does not
        // answer as our child, a fake or one unreachable from here, is never sent relays), and
        // to the one with the fewest relays below it, the first in turn among equals: subtrees
        // that moved (a relay rejoining brings its own) would otherwise pile up on one side.
        let start = (inner.redirects % children.len() as u64) as usize;
        let Some(to) = (0..children.len())
            .map(|i| children[(start + i) % children.len()])
            .filter_map(|url| Some((url, *inner.child_sizes.get(url)?)))
            .min_by_key(|(_, size)| *size)
            .map(|(url, _)| url.to_owned())
        else {
            return Some(RelayAnswer::NotReady);
        };
        inner.redirects += 1;
        info!("{}: relay {url} redirected to child {to}", self.name());
        Some(RelayAnswer::Redirect(to))
    }

    fn reply_head(&self, inner: &Inner, protocol: Protocol, icy: bool, child: bool) -> Bytes {
        let c = &self.config;
        let status = match (icy, protocol) {
            (true, Protocol::Http10) => Protocol::Icy,
            (_, Protocol::Http10) => Protocol::Http10,
            _ => Protocol::Http11,
        };
        let mut reply = IcyReply::new(status, 200, "OK")
            .with_header("content-type", "audio/mpeg")
            .with_header("icy-name", &c.name)
            .with_header("icy-description", &c.description)
            .with_header("icy-genre", &c.genre)
            .with_header("icy-br", &inner.bitrate_kbps.to_string())
            .with_header("icy-pub", "0")
            .with_header("cache-control", "no-cache")
            .with_header("connection", "close");
        if icy {
            reply = reply.with_header("icy-metaint", &c.metaint.to_string());
        }
        if child {
            let mut path = inner.tree_path.join(" ");
            if !path.is_empty() {
                path.push(' ');
            }
            path.push_str(&self.url);
            reply = reply.with_header(PATH_HEADER, &path);
        }
        let mut out = BytesMut::with_capacity(320);
        icy::encode_reply(&reply, &mut out);
        out.freeze()
    }

    /// Writes every listener's pending bytes (one vectored write each), cutting off those that
    /// fell out of the ring and dropping those whose connection failed.
    pub async fn distribute(&self) {
        let mut next = 0;
        let mut cut = 0;
        loop {
            let done = self
                .lock()
                .write_batch(&mut next, BATCH, &mut cut, self.round_len());
            if done {
                break;
            }
            tokio::task::yield_now().await;
        }
        if cut > 0 {
            info!(
                "{}: {cut} listener{} cut off (more than {} ms behind)",
                self.name(),
                if cut == 1 { "" } else { "s" },
                self.config.lag_ms
            );
        }
        self.udp.send_new(self.name(), |pos, out| {
            self.lock().ring.plain_from(pos, out)
        });
    }

    /// Distributions in a busy channel's round: [`BUSY_ROUND`] in ticks.
    fn round_len(&self) -> u64 {
        let tick = self.tick.as_millis().max(1);
        u64::try_from(BUSY_ROUND.as_millis().div_ceil(tick))
            .unwrap_or(1)
            .clamp(1, 64)
    }

    /// Logs joins and leaves since the last such line, at most every 10 s and only if any.
    pub fn log_listeners(&self) {
        let mut inner = self.lock();
        if inner.last_log.elapsed() < LOG_EVERY {
            return;
        }
        let joined = inner.joins - inner.joins_logged;
        let left = inner.leaves_unlogged;
        if joined + left > 0 {
            info!(
                "{}: {} listeners (+{joined} −{left} in {} s)",
                self.name(),
                inner.listeners.len(),
                inner.last_log.elapsed().as_secs()
            );
        }
        inner.joins_logged = inner.joins;
        inner.leaves_unlogged = 0;
        inner.last_log = Instant::now();
    }

    /// Closes every listener (at a stop).
    pub fn close_all(&self) {
        self.lock().listeners.clear();
    }

    /// The slow path, for a listener whose request reached the HTTP stack (a kept-alive
    /// connection's second request): the same bytes as a streamed body, read from the ring
    /// every tick by a task of its own. Ends when the listener falls out of the ring.
    pub fn body_stream(
        self: Arc<Self>,
        icy: bool,
        tick: Duration,
    ) -> impl futures_util::Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
        let pos = {
            let mut inner = self.lock();
            inner.joins += 1;
            inner.http_listeners += 1;
            let now_ms = self.now_ms();
            inner.ring.join_position(icy, now_ms, self.config.burst_ms)
        };
        let guard = HttpListener(Arc::clone(&self));
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        futures_util::stream::unfold(
            (guard, pos, interval, VecDeque::<Bytes>::new()),
            move |(guard, mut pos, mut interval, mut pending)| async move {
                loop {
                    if let Some(piece) = pending.pop_front() {
                        return Some((Ok(piece), (guard, pos, interval, pending)));
                    }
                    interval.tick().await;
                    let mut inner = guard.0.lock();
                    if pos < inner.ring.oldest(icy) {
                        inner.cut_offs += 1;
                        info!("{}: a listener (HTTP stack) cut off", guard.0.name());
                        return None;
                    }
                    pending.extend(
                        inner
                            .ring
                            .read_from(pos, icy)
                            .map(|(data, skip)| data.slice(skip..)),
                    );
                    let sent: u64 = pending.iter().map(|b| b.len() as u64).sum();
                    pos += sent;
                    inner.bytes_out += sent;
                }
            },
        )
    }

    /// The reply head's headers, for the slow path.
    pub fn http_headers(&self, icy: bool) -> Vec<(&'static str, String)> {
        let inner = self.lock();
        let c = &self.config;
        let mut h = vec![
            ("content-type", "audio/mpeg".to_owned()),
            ("icy-name", c.name.clone()),
            ("icy-description", c.description.clone()),
            ("icy-genre", c.genre.clone()),
            ("icy-br", inner.bitrate_kbps.to_string()),
            ("icy-pub", "0".to_owned()),
            ("cache-control", "no-cache".to_owned()),
        ];
        if icy {
            h.push(("icy-metaint", c.metaint.to_string()));
        }
        h
    }

    /// The numbers of `GET /metrics`: those of [`Channel::stats`] without its strings.
    pub fn counters(&self) -> ChannelCounters {
        let udp = self.udp.stats();
        let inner = self.lock();
        ChannelCounters {
            listeners: inner.listeners.len() as u64 + inner.http_listeners,
            relay_children: inner.children().count() as u64,
            udp_clients: udp.clients,
            joins: inner.joins,
            cut_offs: inner.cut_offs,
            bytes_out: inner.bytes_out,
            udp_bytes: udp.bytes,
            redirects: inner.redirects,
            reconnects: inner.source.reconnects,
        }
    }

    /// The numbers of `GET /v1/channels/{name}`.
    pub fn stats(&self) -> ChannelStats {
        let udp = self.udp.stats();
        let inner = self.lock();
        let c = &self.config;
        let mut source = inner.source.clone();
        if self.kind() == ChannelKind::Playlist {
            source.segments = inner.ring.blocks();
        }
        ChannelStats {
            name: c.name.clone(),
            kind: self.kind(),
            description: c.description.clone(),
            genre: c.genre.clone(),
            bitrate_kbps: inner.bitrate_kbps,
            metaint: u32::try_from(c.metaint).unwrap_or(u32::MAX),
            listeners: inner.listeners.len() as u64 + inner.http_listeners,
            listeners_peak: inner.listeners_peak,
            joins: inner.joins,
            bytes_out: inner.bytes_out,
            cut_offs: inner.cut_offs,
            title: inner.ring.title().to_owned(),
            source,
            uptime_ms: self.now_ms(),
            udp_clients: udp.clients,
            udp_datagrams: udp.datagrams,
            udp_bytes: udp.bytes,
            tree: TreeStats {
                url: self.url.clone(),
                path: inner.tree_path.clone(),
                children: inner
                    .listeners
                    .iter()
                    .filter_map(|l| l.child.clone())
                    .collect(),
                max_children: u32::try_from(c.max_children).unwrap_or(u32::MAX),
                redirects: inner.redirects,
                loops_refused: inner.loops_refused,
                descendants: inner.descendants(),
            },
        }
    }
}

impl Inner {
    /// The relay children's URLs.
    fn children(&self) -> impl Iterator<Item = &str> {
        self.listeners.iter().filter_map(|l| l.child.as_deref())
    }

    /// The relays below: each child and what it said is below it.
    fn descendants(&self) -> u64 {
        self.listeners
            .iter()
            .filter_map(|l| l.child.as_deref())
            .map(|url| 1 + self.child_sizes.get(url).copied().unwrap_or(0))
            .sum()
    }

    /// Drops relay children whose connection has closed (a killed relay's socket reads as
    /// ended; nothing else is ever sent on it) and the child called `stale` if any.
    fn prune_children(&mut self, channel: &str, stale: Option<&str>) {
        let mut i = 0;
        while i < self.listeners.len() {
            let l = &self.listeners[i];
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
                self.listeners.swap_remove(i);
                self.leaves_unlogged += 1;
            } else {
                i += 1;
            }
        }
    }

    fn add_listener(&mut self, mut listener: Listener) {
        listener.slot = (self.joins % 64) as u8;
        self.bytes_out += listener.bytes_out;
        self.listeners.push(listener);
        self.joins += 1;
        self.listeners_peak = self.listeners_peak.max(self.listeners.len() as u64);
    }

    /// Writes to listeners from `*next` on, at most `batch` of them; true when all are done.
    fn write_batch(&mut self, next: &mut usize, batch: usize, cut: &mut u64, round: u64) -> bool {
        let oldest = [self.ring.oldest(false), self.ring.oldest(true)];
        let edge = [self.ring.edge(false), self.ring.edge(true)];
        if *next == 0 {
            self.distributions += 1;
        }
        // Busy: only this distribution's slot is written.
        let slot =
            (self.listeners.len() > BUSY_LISTENERS).then(|| (self.distributions % round) as u8);
        let Inner {
            ring,
            listeners,
            bytes_out,
            cut_offs,
            leaves_unlogged,
            ..
        } = self;
        let mut iov: Vec<IoSlice<'_>> = Vec::with_capacity(16);
        let stop = next.saturating_add(batch);
        while *next < listeners.len() && *next < stop {
            let l = &mut listeners[*next];
            let mode = usize::from(l.icy);
            if l.pos < oldest[mode] {
                *cut += 1;
                *cut_offs += 1;
                *leaves_unlogged += 1;
                let gone = listeners.swap_remove(*next);
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
                    *bytes_out += n as u64;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                // Gone (EPIPE, ECONNRESET...).
                _ => {
                    *leaves_unlogged += 1;
                    let gone = listeners.swap_remove(*next);
                    if let Some(url) = gone.child {
                        info!("relay child {url} left");
                    }
                    continue;
                }
            }
            *next += 1;
        }
        *next >= listeners.len()
    }
}

/// A relay that is not taken as a child: what it is told.
#[derive(Debug)]
enum RelayAnswer {
    /// Go to this child instead.
    Redirect(String),
    /// It is upstream of this copy.
    Loop,
    /// Full, and no child has confirmed it is ours yet (it joined under a second ago).
    NotReady,
    /// This copy is a relay not connected to its upstream.
    NotConnected,
    /// This channel takes no relay children.
    NoRoom,
}

impl RelayAnswer {
    /// Writes the answer (no body) and closes.
    async fn send(self, mut socket: tokio::net::TcpStream, protocol: Protocol) -> io::Result<()> {
        let protocol = if protocol == Protocol::Http10 {
            Protocol::Http10
        } else {
            Protocol::Http11
        };
        let reply = match &self {
            RelayAnswer::Redirect(to) => {
                IcyReply::new(protocol, 302, "Found").with_header("location", to)
            }
            RelayAnswer::Loop => IcyReply::new(protocol, 508, "Loop Detected"),
            RelayAnswer::NoRoom => IcyReply::new(protocol, 503, "No Relay Children Here"),
            RelayAnswer::NotReady => IcyReply::new(protocol, 503, "Children Not Confirmed Yet"),
            RelayAnswer::NotConnected => IcyReply::new(protocol, 503, "Not Connected Upstream"),
        }
        .with_header("content-length", "0")
        .with_header("connection", "close");
        let mut out = BytesMut::with_capacity(256);
        icy::encode_reply(&reply, &mut out);
        tokio::time::timeout(HEAD_WRITE_TIMEOUT, async {
            socket.write_all(&out).await?;
            socket.shutdown().await
        })
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "answer not taken"))?
    }
}
