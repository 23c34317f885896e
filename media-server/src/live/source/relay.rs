//! A relay channel's source: an upstream ICY (or plain HTTP) MP3 stream, re-broadcast.
//!
//! The relay asks the upstream with `Icy-MetaData: 1`, reads the reply and segments with the ICY
//! decoder, and appends the audio (cut at MP3 frame boundaries, so silence can be spliced in
//! cleanly) with the upstream's titles as soon as it arrives, then writes to its listeners at
//! once: a relay adds no tick of latency. Segments are numbered as they arrive; a gap or a
//! duplicate in the numbering is counted.
//!
//! When the upstream drops (or sends nothing for [`UPSTREAM_SILENT`]), listeners stay
//! connected and receive silent frames shaped like the upstream's last frame, in real time,
//! while the relay reconnects with backoff (100 ms doubling to 5 s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use grid_proto::icy::{self, Decoder, IcyRequest, Item};
use grid_proto::live::{PATH_HEADER, RELAY_HEADER};
use grid_proto::splice::{Spliced, Splicer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tracing::{info, warn};

use super::silence::Silence;
use crate::live::channel::Channel;
use crate::live::config::Upstream;
use crate::mpeg::{self, Aligner, FrameHeader};

/// First wait before a reconnection.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest wait between reconnections.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Connecting and reading the reply head may take this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// An upstream that sends nothing for this long is taken as dropped.
pub const UPSTREAM_SILENT: Duration = Duration::from_secs(2);
/// Redirects followed in one connection attempt (a tree of 2 children per node is 16 deep at
/// 65,535 relays).
const MAX_REDIRECTS: usize = 16;
/// A connection that served audio this long was healthy: its end is answered by an immediate
/// rejoin. Shorter ones wait the backoff.
const HEALTHY_SESSION: Duration = Duration::from_secs(1);
/// How often a relay in a tree asks its parent for the parent's path.
const PATH_REFRESH: Duration = Duration::from_secs(1);

/// A connected upstream: the socket, its decoder past the reply head, the reply, and the URL
/// it was found at (after redirects).
struct Connected {
    socket: TcpStream,
    decoder: Decoder,
    reply: icy::IcyReply,
    url: String,
}

/// Connects, asks (naming itself as a relay `me`), follows redirects down the distribution
/// tree, and reads the reply head; the decoder then yields segments.
async fn connect(authority: &str, target: &str, me: &str) -> anyhow::Result<Connected> {
    let mut authority = authority.to_owned();
    let mut target = target.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let mut socket = TcpStream::connect(&authority).await?;
        socket.set_nodelay(true)?;
        let mut head = BytesMut::with_capacity(256);
        let request = IcyRequest::get(&authority, &target).with_header(RELAY_HEADER, me);
        icy::encode_request(&request, &mut head);
        socket.write_all(&head).await?;
        let mut decoder = Decoder::reply();
        let reply = loop {
            match decoder.next()? {
                Some(Item::Reply(reply)) => break reply,
                Some(_) => anyhow::bail!("no reply head"),
                None => {
                    if tokio::io::AsyncReadExt::read_buf(&mut socket, decoder.input()).await? == 0 {
                        anyhow::bail!("upstream closed before its reply");
                    }
                }
            }
        };
        let url = format!("http://{authority}{target}");
        if reply.is_success() {
            return Ok(Connected {
                socket,
                decoder,
                reply,
                url,
            });
        }
        let location = reply
            .header("location")
            .filter(|_| matches!(reply.status, 301 | 302 | 303 | 307 | 308));
        let Some(location) = location else {
            anyhow::bail!("{url} answered {} {}", reply.status, reply.reason);
        };
        (authority, target) = if location.starts_with('/') {
            // Relative: on the same server.
            (authority, location.to_owned())
        } else {
            crate::live::config::split_url(location)
                .ok_or_else(|| anyhow::anyhow!("{url} redirected to a bad URL: {location}"))?
        };
    }
    anyhow::bail!("more than {MAX_REDIRECTS} redirects")
}

/// The relay's state between two connections.
struct Relay {
    channel: Arc<Channel>,
    silence: Silence,
    aligner: Aligner,
    /// Last segment number seen in this connection.
    last_segment: Option<u64>,
    /// Joins a new upstream's burst to what was passed on, so listeners hear none of it twice.
    splice: Splicer,
    /// The current connection brought audio.
    got_audio: bool,
}

impl Relay {
    /// Silence due until now, then a write to every listener.
    async fn silent_tick(&mut self) {
        if let Some(audio) = self.silence.due(Instant::now()) {
            self.channel.set_bitrate(self.silence.bitrate_kbps());
            self.channel.push_audio(audio);
        }
        self.channel.distribute().await;
        self.channel.log_listeners();
    }

    /// Waits `how_long`, playing silence.
    async fn silent_wait(&mut self, interval: &mut tokio::time::Interval, how_long: Duration) {
        let until = tokio::time::Instant::now() + how_long;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return,
                _ = interval.tick() => self.silent_tick().await,
            }
        }
    }

    /// Takes the decoder's items: audio to the channel, titles, segment numbering.
    fn take_items(&mut self, decoder: &mut Decoder) -> Result<bool, icy::IcyError> {
        let mut any = false;
        while let Some(item) = decoder.next()? {
            match item {
                Item::Audio { data, .. } => {
                    self.got_audio |= !data.is_empty();
                    self.aligner.extend(&data);
                }
                Item::Metadata { segment, metadata } => {
                    // The title applies from the audio after the block: flush what came before.
                    any |= self.flush_audio();
                    self.channel.count_segments(1);
                    match self.last_segment {
                        Some(last) if segment == last => self.channel.count_duplicate(),
                        Some(last) if segment > last + 1 => self.channel.count_gap(),
                        None if segment > 0 => self.channel.count_gap(),
                        _ => {}
                    }
                    self.last_segment = Some(segment);
                    if let Some(title) = metadata.and_then(|m| m.stream_title)
                        && self.channel.set_title(&title)
                    {
                        info!("{}: now '{title}'", self.channel.name());
                    }
                }
                Item::Reply(_) | Item::Request(_) => {}
            }
        }
        Ok(self.flush_audio() || any)
    }

    fn flush_audio(&mut self) -> bool {
        let Some(audio) = self.aligner.take() else {
            return false;
        };
        let (audio, spliced) = self.splice.push(&audio, Instant::now());
        match spliced {
            Some(Spliced::Joined(skipped)) => info!(
                "{}: joined the new upstream's audio to what was passed on ({skipped} bytes of its burst already sent)",
                self.channel.name()
            ),
            Some(Spliced::Differs) => info!(
                "{}: the new upstream's audio does not continue what was passed on; it follows as it is",
                self.channel.name()
            ),
            None => {}
        }
        if audio.is_empty() {
            return false;
        }
        let audio = Bytes::from(audio);
        if let Some(h) = FrameHeader::parse(&audio) {
            self.channel.set_bitrate(h.bitrate_kbps);
        }
        self.channel.push_audio(audio);
        true
    }

    /// Relays one connection until it drops; `Err` says why.
    async fn session(
        &mut self,
        interval: &mut tokio::time::Interval,
        mut socket: TcpStream,
        mut decoder: Decoder,
    ) -> anyhow::Result<()> {
        let mut last_data = Instant::now();
        let mut wrote_since_tick = false;
        loop {
            tokio::select! {
                read = tokio::io::AsyncReadExt::read_buf(&mut socket, decoder.input()) => {
                    let mut ended = read? == 0;
                    // Take whatever else is already there, to write it all at once.
                    while !ended {
                        match socket.try_read_buf(decoder.input()) {
                            Ok(0) => ended = true,
                            Ok(_) if decoder.rest().len() < 256 * 1024 => {}
                            Ok(_) => break,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                            Err(e) => return Err(e.into()),
                        }
                    }
                    last_data = Instant::now();
                    // What came with the end is passed on before the session ends.
                    if self.take_items(&mut decoder)? {
                        self.channel.distribute().await;
                        wrote_since_tick = true;
                    }
                    if ended {
                        anyhow::bail!("upstream closed the stream");
                    }
                }
                _ = interval.tick() => {
                    if last_data.elapsed() > UPSTREAM_SILENT {
                        anyhow::bail!("upstream sent nothing for {} ms", UPSTREAM_SILENT.as_millis());
                    }
                    // Listeners that could not take everything get the rest now.
                    if !wrote_since_tick {
                        self.channel.distribute().await;
                    }
                    wrote_since_tick = false;
                    self.channel.log_listeners();
                }
            }
        }
    }
}

/// Where to connect now: `(authority, target)` candidates in the order to try. A `grid:`
/// upstream is located at every attempt (its server may have moved); this server is left out.
async fn candidates(
    upstream: &Upstream,
    locator: Option<&grid_proto::client::Client>,
    me: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    match upstream {
        Upstream::Http { authority, target } => Ok(vec![(authority.clone(), target.clone())]),
        Upstream::Grid { id, target } => {
            let locator = locator.ok_or_else(|| anyhow::anyhow!("no registry to locate {id}"))?;
            let reply = locator
                .locate(id)
                .await
                .map_err(|e| anyhow::anyhow!("cannot locate {id}: {e}"))?;
            let found: Vec<(String, String)> = reply
                .endpoints
                .iter()
                .filter(|e| !me.starts_with(&format!("{}/", e.endpoint.trim_end_matches('/'))))
                .filter_map(|e| {
                    let url = format!("{}{target}", e.endpoint.trim_end_matches('/'));
                    crate::live::config::split_url(&url)
                })
                .collect();
            if found.is_empty() {
                anyhow::bail!("the registry knows no live server of {id} but this one");
            }
            Ok(found)
        }
    }
}

/// Connects to the first candidate that answers.
async fn connect_any(
    upstream: &Upstream,
    locator: Option<&grid_proto::client::Client>,
    me: &str,
) -> anyhow::Result<Connected> {
    let mut last = None;
    for (authority, target) in candidates(upstream, locator, me).await? {
        match connect(&authority, &target, me).await {
            Ok(up) => return Ok(up),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("nowhere to connect")))
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps the channel's tree path current while it is connected to `parent` (a channel URL,
/// `http://HOST:PORT/live/NAME`): the parent's own path plus the parent, asked every
/// [`PATH_REFRESH`]. A path is learnt at connection time and the parent passes its own on, so
/// without this a subtree that moved would name its old ancestors, to its children too.
async fn follow_path(channel: Arc<Channel>, parent: String) {
    let Some((base, name)) = parent.split_once("/live/") else {
        return;
    };
    let Ok(client) =
        grid_proto::client::Client::with_timeout(base, "the parent relay", PATH_REFRESH)
    else {
        return;
    };
    let mut every = tokio::time::interval(PATH_REFRESH);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(stats) = crate::live::peer::peer_stats(&client, name).await else {
            continue;
        };
        let mut now = stats.tree.path;
        now.push(stats.tree.url);
        let (depth, parent) = (now.len(), now.last().cloned());
        if channel.follow_tree_path(now) {
            info!(
                "{}: the tree above moved: now at depth {depth} under {}",
                channel.name(),
                parent.as_deref().unwrap_or("?")
            );
        }
    }
}

/// The relay's loop: connect, relay, and on a drop, silence and reconnect with backoff.
pub async fn run(
    channel: Arc<Channel>,
    upstream: Upstream,
    registry: Option<String>,
    tick: Duration,
) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let url = channel.upstream().unwrap_or_default();
    let mut relay = Relay {
        channel: Arc::clone(&channel),
        silence: Silence::new(mpeg::DEFAULT_HEADER),
        aligner: Aligner::default(),
        last_segment: None,
        splice: Splicer::default(),
        got_audio: false,
    };
    let mut backoff = BACKOFF_MIN;
    let mut ever_connected = false;
    let mut failing_logged = false;
    let me = channel.url().to_owned();
    let locator = match registry
        .as_deref()
        .map(|r| grid_proto::client::Client::with_timeout(r, "the registry", CONNECT_TIMEOUT))
    {
        Some(Ok(client)) => Some(client),
        Some(Err(e)) => {
            warn!("{}: {e}; grid: upstreams cannot be located", channel.name());
            None
        }
        None => None,
    };
    loop {
        let mut rejoin_now = false;
        let attempt = tokio::time::timeout(
            CONNECT_TIMEOUT,
            connect_any(&upstream, locator.as_ref(), &me),
        );
        tokio::pin!(attempt);
        let connected = loop {
            tokio::select! {
                result = &mut attempt => break result.unwrap_or_else(|_| Err(anyhow::anyhow!("no reply in {} ms", CONNECT_TIMEOUT.as_millis()))),
                _ = interval.tick() => relay.silent_tick().await,
            }
        };
        match connected {
            Ok(up) => {
                // A tree member says where it sits: the chain from the root to it.
                let path: Vec<String> = up
                    .reply
                    .header(PATH_HEADER)
                    .map(|p| p.split_whitespace().map(str::to_owned).collect())
                    .unwrap_or_default();
                if let Some(br) = up.reply.bitrate() {
                    channel.set_bitrate(br);
                }
                channel.set_tree_path(path.clone());
                channel.source_playing(ever_connected);
                let place = if path.is_empty() {
                    String::new()
                } else {
                    format!(" (depth {} of the tree)", path.len())
                };
                info!(
                    "{}: relay {} {}{place}",
                    channel.name(),
                    if ever_connected {
                        "reconnected to"
                    } else {
                        "connected to"
                    },
                    up.url
                );
                if ever_connected {
                    relay.splice.rejoin();
                }
                ever_connected = true;
                failing_logged = false;
                relay.last_segment = None;
                relay.got_audio = false;
                let began = Instant::now();
                // A parent in the tree may move (it rejoins elsewhere when its own parent dies):
                // the path is followed while connected.
                let _follow = (!path.is_empty()).then(|| {
                    AbortOnDrop(tokio::spawn(follow_path(
                        Arc::clone(&channel),
                        up.url.clone(),
                    )))
                });
                let why = relay.session(&mut interval, up.socket, up.decoder).await;
                let why = why.err().map_or_else(String::new, |e| format!("{e:#}"));
                // A connection that served audio for a while ends in an immediate rejoin (a
                // parent died: back into the tree now) and a fresh backoff; one that did not (an
                // upstream that drops at once, audio or not) waits the growing backoff, so no
                // upstream can make the relay spin.
                if relay.got_audio && began.elapsed() >= HEALTHY_SESSION {
                    rejoin_now = true;
                    backoff = BACKOFF_MIN;
                }
                warn!(
                    "{}: relay dropped by {} ({why}); silence while reconnecting to {url}",
                    channel.name(),
                    up.url
                );
            }
            Err(e) => {
                if !failing_logged {
                    warn!(
                        "{}: relay cannot reach {url} ({e:#}); retrying with backoff up to {} s",
                        channel.name(),
                        BACKOFF_MAX.as_secs()
                    );
                    failing_logged = true;
                }
            }
        }
        // Reconnecting, and out of the tree until it rejoins.
        if channel.source_lost() {
            // The partial frame of the dropped stream is dropped; silence takes over.
            relay.aligner.clear();
            relay.silence =
                Silence::new(relay.aligner.last_header().unwrap_or(mpeg::DEFAULT_HEADER));
        }
        relay.silence.restart(Instant::now());
        if !rejoin_now {
            relay.silent_wait(&mut interval, backoff).await;
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}
