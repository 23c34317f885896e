//! A channel: its recent output (`Ring`), its listeners (`Listeners`), its place in the
//! distribution tree (`Tree`), its UDP clients ([`UdpFeed`]) and its source's numbers, behind
//! one lock; sources and the front act on it only through its methods.
//!
//! Each tick the distributor gives every listener one vectored, non-blocking write of the ring
//! from its position to the live edge.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grid_proto::icy::IcyRequest;
use grid_proto::live::{ChannelKind, ChannelStats, RELAY_HEADER, SourceState, SourceStats};
use tracing::info;

use super::config::{ChannelConfig, Source};
use super::listeners::{self, BUSY_ROUND, Listeners};
use super::ring::Ring;
use super::tree::Tree;
use super::udp_feed::UdpFeed;

/// Listeners written between two yields to the runtime, so accepts and API requests are not
/// held up by a long walk.
const BATCH: usize = 1024;
/// A new listener whose reply head does not fit its socket at once gets this long to take it.
const HEAD_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a channel asks its relay children the size of their subtrees.
const CHILD_POLL: Duration = Duration::from_secs(1);

/// What is behind the channel's lock.
#[derive(Debug)]
struct Inner {
    ring: Ring,
    /// Of the current track (playlist) or the upstream (relay).
    bitrate_kbps: u32,
    listeners: Listeners,
    /// The source's numbers; its owner updates them through the channel's methods.
    source: SourceStats,
    tree: Tree,
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
            listeners: Listeners::new(),
            source: SourceStats {
                state,
                upstream,
                track_id: None,
                reconnects: 0,
                segments: 0,
                gaps: 0,
                duplicates: 0,
            },
            tree: Tree::default(),
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
            let children: Vec<String> = self
                .lock()
                .listeners
                .children()
                .map(str::to_owned)
                .collect();
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
            self.lock()
                .tree
                .set_child_sizes(sizes.into_iter().collect());
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
        inner.tree.set_path(Vec::new());
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
        self.lock().tree.set_path(path);
    }

    /// The tree above moved: `path` from now on, while connected; true if it changed.
    pub(crate) fn follow_tree_path(&self, path: Vec<String>) -> bool {
        let mut inner = self.lock();
        if inner.source.state == SourceState::Playing && inner.tree.path() != path.as_slice() {
            inner.tree.set_path(path);
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
        listeners::limit_send_buffer(&socket, self.config.burst_ms);
        let started = {
            let mut inner = self.lock();
            // Decided under the lock the child is added under: two relays joining at once
            // cannot both take the last place.
            if let Some(answer) = child
                .as_deref()
                .and_then(|url| self.place_relay(&mut inner, url))
            {
                Err((socket, answer))
            } else {
                let headers = listeners::icy_headers(&self.config, inner.bitrate_kbps, icy, true);
                let path = child
                    .is_some()
                    .then(|| inner.tree.path_for_child(&self.url));
                let head = listeners::reply_head(request.protocol, icy, &headers, path.as_deref());
                let pos = inner
                    .ring
                    .join_position(icy, self.now_ms(), self.config.burst_ms);
                let Inner {
                    ring, listeners, ..
                } = &mut *inner;
                Ok(listeners.start(ring, socket, &head, pos, icy, child)?)
            }
        };
        let left = match started {
            Ok(None) => return Ok(()),
            Ok(Some(left)) => left,
            Err((socket, answer)) => {
                let socket = tokio::net::TcpStream::from_std(socket)?;
                return answer.send(socket, request.protocol).await;
            }
        };
        // Rare: the head did not fit the socket at once; wait until it does.
        let mut socket = tokio::net::TcpStream::from_std(left.socket)?;
        tokio::time::timeout(
            HEAD_WRITE_TIMEOUT,
            tokio::io::AsyncWriteExt::write_all(&mut socket, &left.rest),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "reply head not taken"))??;
        let socket = socket.into_std()?;
        let mut inner = self.lock();
        if left.child.is_some() && inner.listeners.children().count() >= self.config.max_children {
            // Its place went to another relay meanwhile: it rejoins.
            return Ok(());
        }
        inner.listeners.add(socket, left.pos, 0, icy, left.child);
        Ok(())
    }

    /// Where a relay asking to join goes ([`Tree::place`]): `None` to take it as a child.
    fn place_relay(&self, inner: &mut Inner, url: &str) -> Option<super::tree::RelayAnswer> {
        let connected = !matches!(self.config.source, Source::Relay { .. })
            || inner.source.state == SourceState::Playing;
        let Inner {
            listeners, tree, ..
        } = inner;
        let answer = tree.place(
            listeners,
            &self.url,
            self.name(),
            connected,
            url,
            self.config.max_children,
        );
        if answer.is_none() {
            self.children_changed.notify_one();
        }
        answer
    }

    /// Writes every listener's pending bytes (one vectored write each), cutting off those that
    /// fell out of the ring and dropping those whose connection failed.
    pub async fn distribute(&self) {
        let mut next = 0;
        let mut cut = 0;
        loop {
            let done = {
                let mut inner = self.lock();
                let Inner {
                    ring, listeners, ..
                } = &mut *inner;
                listeners.write_batch(ring, &mut next, BATCH, &mut cut, self.round_len())
            };
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
        self.lock().listeners.log(self.name());
    }

    /// Closes every listener (at a stop).
    pub fn close_all(&self) {
        self.lock().listeners.close_all();
    }

    /// A listener of the slow path joined: where it starts.
    pub(crate) fn http_join(&self, icy: bool) -> u64 {
        let mut inner = self.lock();
        inner.listeners.http_joined();
        let now_ms = self.now_ms();
        inner.ring.join_position(icy, now_ms, self.config.burst_ms)
    }

    /// A listener of the slow path left.
    pub(crate) fn http_leave(&self) {
        self.lock().listeners.http_left();
    }

    /// A listener of the slow path at `pos` takes the ring's data from there to the live edge
    /// into `out`; returns its new position, or `None` when it fell out of the ring (cut off).
    pub(crate) fn http_read(&self, pos: u64, icy: bool, out: &mut VecDeque<Bytes>) -> Option<u64> {
        let mut inner = self.lock();
        if pos < inner.ring.oldest(icy) {
            inner.listeners.http_cut_off();
            return None;
        }
        let before = out.len();
        out.extend(
            inner
                .ring
                .read_from(pos, icy)
                .map(|(data, skip)| data.slice(skip..)),
        );
        let sent: u64 = out.range(before..).map(|b| b.len() as u64).sum();
        inner.listeners.http_sent(sent);
        Some(pos + sent)
    }

    /// The reply head's headers, for the slow path.
    pub fn http_headers(&self, icy: bool) -> Vec<(&'static str, String)> {
        listeners::icy_headers(&self.config, self.lock().bitrate_kbps, icy, false)
    }

    /// The numbers of `GET /metrics`: those of [`Channel::stats`] without its strings.
    pub fn counters(&self) -> ChannelCounters {
        let udp = self.udp.stats();
        let inner = self.lock();
        ChannelCounters {
            listeners: inner.listeners.count(),
            relay_children: inner.listeners.children().count() as u64,
            udp_clients: udp.clients,
            joins: inner.listeners.joins(),
            cut_offs: inner.listeners.cut_offs(),
            bytes_out: inner.listeners.bytes_out(),
            udp_bytes: udp.bytes,
            redirects: inner.tree.redirects(),
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
            listeners: inner.listeners.count(),
            listeners_peak: inner.listeners.peak(),
            joins: inner.listeners.joins(),
            bytes_out: inner.listeners.bytes_out(),
            cut_offs: inner.listeners.cut_offs(),
            title: inner.ring.title().to_owned(),
            source,
            uptime_ms: self.now_ms(),
            udp_clients: udp.clients,
            udp_datagrams: udp.datagrams,
            udp_bytes: udp.bytes,
            tree: inner
                .tree
                .stats(&inner.listeners, &self.url, c.max_children),
        }
    }
}
