//! The player: one task that owns the render's state (track, queue, playback session, failover
//! record) and takes commands in order, so there are no lock races between the control API, the
//! fetch task and the playback thread. Status is read through a watch channel, never waiting on
//! the player.
//!
//! The seed's flow, one log line per step: `load_track` → `get_track_info` → `open_stream` →
//! loaded; `play` → the fetch loop → the server's empty chunk → `close_stream` →
//! `track_exhausted`, then the queue advances.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use grid_proto::live::ChannelPlay;
use grid_proto::media::{
    self as media, Failover, OpenStream, PlayState, RenderEvent, RenderStatus, ServerRef, Stopped,
    Subject, TrackInfo,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::buffer::TrackBuffer;
use crate::channel::{self, ChannelEvent, ChannelJob, JoinError};
use crate::cli::FetchMode;
use crate::error::PlayError;
use crate::events::Events;
use crate::fetch::{self, FetchEvent, FetchJob};
use crate::locate::Locator;
use crate::mediaserver::{CallError, MediaClient};
use crate::metrics::Playing;
use crate::pacer::{Control, Pacer, PacerEvent, PacerJob};
use crate::sink::{NowPlaying, Sink};

/// How long the player waits for a MediaServer to close a stream (on exit too).
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);
/// The read-ahead never drops below this, whatever `--buffer-ms` says: a few network reads.
const MIN_AHEAD: u64 = 16 * 1024;

/// The player's settings.
#[derive(Debug, Clone)]
pub struct PlayerConfig {
    /// The render id, also its id on the wire to MediaServers.
    pub render: String,
    /// The MediaServers' replica group (for messages).
    pub group: String,
    /// Playback speed (0 = unpaced).
    pub speed: f64,
    /// Read-ahead in milliseconds of audio.
    pub buffer_ms: u64,
    /// Fetch piece size.
    pub chunk: usize,
    /// Stream or chunk.
    pub fetch: FetchMode,
    /// Failovers and their gaps, for `GET /metrics`.
    pub metrics: Arc<crate::metrics::RenderMetrics>,
}

/// A transport control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Play what is loaded (or the queue's first track).
    Play,
    /// Pause.
    Pause,
    /// Resume after a pause.
    Resume,
    /// Stop and close the stream.
    Stop,
    /// The queue's next track.
    Next,
}

impl Action {
    /// From the path segment of `POST /v1/{action}`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "play" => Self::Play,
            "pause" => Self::Pause,
            "resume" => Self::Resume,
            "stop" => Self::Stop,
            "next" => Self::Next,
            _ => return None,
        })
    }
}

type StatusReply = oneshot::Sender<Result<RenderStatus, PlayError>>;
type QueueReply = oneshot::Sender<Result<Vec<TrackInfo>, PlayError>>;

enum Command {
    Load(String, StatusReply),
    Channel(String, StatusReply),
    Act(Action, StatusReply),
    QueueAdd(String, QueueReply),
    QueueClear(QueueReply),
    QueueList(QueueReply),
    Shutdown(oneshot::Sender<()>),
}

/// The parts of the status that move continuously, read live from the session.
#[derive(Debug, Clone)]
struct Live {
    buffer: Arc<TrackBuffer>,
    control: Arc<Control>,
    bytes_per_ms: u64,
}

/// What the watch channel carries.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    status: RenderStatus,
    live: Option<Live>,
    /// On a channel: audio bytes received, and bytes per ms.
    channel: Option<(Arc<AtomicU64>, u64)>,
}

impl Snapshot {
    fn status(&self) -> RenderStatus {
        let mut s = self.status.clone();
        if let Some(live) = &self.live {
            s.position_ms = live.control.position_ms();
            s.bytes_received = live.buffer.received();
            s.buffered_ms = live.buffer.unreleased() / live.bytes_per_ms;
            s.underruns += live.buffer.underruns();
        }
        if let Some((received, bytes_per_ms)) = &self.channel {
            s.bytes_received = received.load(Ordering::Relaxed);
            s.position_ms = s.bytes_received / bytes_per_ms;
        }
        s
    }
}

/// The control API's handle on the player. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PlayerHandle {
    tx: mpsc::Sender<Command>,
    snapshot: watch::Receiver<Snapshot>,
    sink: Arc<Sink>,
}

impl PlayerHandle {
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, PlayError>>) -> Command,
    ) -> Result<T, PlayError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| PlayError::Gone)?;
        rx.await.map_err(|_| PlayError::Gone)?
    }

    /// The seed's `load_track`.
    pub async fn load(&self, track_id: String) -> Result<RenderStatus, PlayError> {
        self.ask(|tx| Command::Load(track_id, tx)).await
    }

    /// Joins a live channel (`POST /v1/channel`).
    pub async fn channel(&self, name: String) -> Result<RenderStatus, PlayError> {
        self.ask(|tx| Command::Channel(name, tx)).await
    }

    /// play, pause, resume, stop, next.
    pub async fn act(&self, action: Action) -> Result<RenderStatus, PlayError> {
        self.ask(|tx| Command::Act(action, tx)).await
    }

    /// Appends a track to the queue; the queue after it.
    pub async fn queue_add(&self, track_id: String) -> Result<Vec<TrackInfo>, PlayError> {
        self.ask(|tx| Command::QueueAdd(track_id, tx)).await
    }

    /// Empties the queue.
    pub async fn queue_clear(&self) -> Result<Vec<TrackInfo>, PlayError> {
        self.ask(Command::QueueClear).await
    }

    /// The queue.
    pub async fn queue(&self) -> Result<Vec<TrackInfo>, PlayError> {
        self.ask(Command::QueueList).await
    }

    /// The status, now.
    pub fn status(&self) -> RenderStatus {
        self.snapshot.borrow().status()
    }

    /// A `/listen` client's feed: its burst, then the live bytes.
    pub fn listen(
        &self,
    ) -> (
        Vec<bytes::Bytes>,
        tokio::sync::broadcast::Receiver<bytes::Bytes>,
    ) {
        // Never behind the sink's output lock: a stuck output must not hold up a listener.
        self.sink.listen()
    }

    /// What plays (name and title), for `/listen` clients that ask for ICY metadata.
    pub fn now(&self) -> watch::Receiver<NowPlaying> {
        self.sink.now()
    }

    /// Stops playback and closes the stream on the server, for a clean exit.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// One playing track: its buffer, fetch task and playback thread, ended together on drop.
struct Session {
    id: u64,
    buffer: Arc<TrackBuffer>,
    pacer: Pacer,
    fetch: Option<JoinHandle<()>>,
    bytes_per_ms: u64,
    /// The fetch task's end of track was handled: the stream is closed on its server.
    stream_closed: bool,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.pacer.control().stop();
        self.buffer.close();
        if let Some(fetch) = &self.fetch {
            fetch.abort();
        }
    }
}

/// A joined live channel: its task, ended on drop.
struct ChannelSession {
    id: u64,
    name: String,
    title: String,
    task: Option<JoinHandle<()>>,
    received: Arc<AtomicU64>,
    bytes_per_ms: u64,
}

impl Drop for ChannelSession {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A channel name as `docs/live.md` has them: `[a-z0-9-]{1,32}`.
pub fn channel_name(raw: &str) -> Result<String, PlayError> {
    let name = raw.trim();
    if (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Ok(name.to_owned())
    } else {
        Err(PlayError::BadRequest(format!(
            "'{raw}' is not a channel name: 1 to 32 of a-z, 0-9 and -"
        )))
    }
}

/// How long ending a session waits for its playback thread to let go of the sink.
const PACER_JOIN: Duration = Duration::from_secs(1);

struct Player {
    cfg: PlayerConfig,
    client: MediaClient,
    locator: Locator,
    events: Events,
    sink: Arc<Sink>,
    fetch_tx: mpsc::UnboundedSender<(u64, FetchEvent)>,
    pacer_tx: mpsc::UnboundedSender<(u64, PacerEvent)>,
    channel_tx: mpsc::UnboundedSender<(u64, ChannelEvent)>,
    /// The live channel it plays, if any (then there is no track).
    channel: Option<ChannelSession>,
    state: PlayState,
    retrying: bool,
    track: Option<TrackInfo>,
    /// The server in use (streaming, or holding the loaded stream).
    server: Option<ServerRef>,
    /// The list located at load: where the fetch task starts.
    located: Vec<ServerRef>,
    /// A server holding a stream opened at 0 and not read yet.
    opened: Option<ServerRef>,
    session: Option<Session>,
    next_session: u64,
    queue: VecDeque<TrackInfo>,
    failovers: u32,
    last_failover: Option<Failover>,
    error: Option<String>,
    /// Underruns of finished sessions.
    underruns: u32,
    snapshot: watch::Sender<Snapshot>,
}

/// Starts the player task.
pub fn spawn(
    cfg: PlayerConfig,
    client: MediaClient,
    locator: Locator,
    events: Events,
    sink: Sink,
) -> PlayerHandle {
    let (tx, rx) = mpsc::channel(64);
    let (fetch_tx, fetch_rx) = mpsc::unbounded_channel();
    let (pacer_tx, pacer_rx) = mpsc::unbounded_channel();
    let (channel_tx, channel_rx) = mpsc::unbounded_channel();
    let sink = Arc::new(sink);
    let snapshot = watch::Sender::new(Snapshot {
        status: RenderStatus {
            render: cfg.render.clone(),
            ..RenderStatus::default()
        },
        live: None,
        channel: None,
    });
    let handle = PlayerHandle {
        tx,
        snapshot: snapshot.subscribe(),
        sink: Arc::clone(&sink),
    };
    let player = Player {
        cfg,
        client,
        locator,
        events,
        sink,
        fetch_tx,
        pacer_tx,
        channel_tx,
        channel: None,
        state: PlayState::Idle,
        retrying: false,
        track: None,
        server: None,
        located: Vec::new(),
        opened: None,
        session: None,
        next_session: 1,
        queue: VecDeque::new(),
        failovers: 0,
        last_failover: None,
        error: None,
        underruns: 0,
        snapshot,
    };
    tokio::spawn(player.run(rx, fetch_rx, pacer_rx, channel_rx));
    handle
}

/// A track id is 16 hex digits (of the SHA-256 of the file): anything else is refused before
/// any server is asked.
pub fn track_id(raw: &str) -> Result<String, PlayError> {
    let id = raw.trim();
    if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(PlayError::BadRequest(format!(
            "'{raw}' is not a track id: a track id is 16 hex digits"
        )))
    }
}

fn mm_ss(ms: u64) -> String {
    format!("{}:{:02}", ms / 60_000, ms / 1000 % 60)
}

/// The state as `status` and the logs name it.
pub(crate) fn state_name(state: PlayState) -> &'static str {
    match state {
        PlayState::Idle => "idle",
        PlayState::Loaded => "loaded",
        PlayState::Playing => "playing",
        PlayState::Paused => "paused",
        PlayState::Stopped => "stopped",
        PlayState::Retrying => "retrying",
    }
}

impl Player {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut fetch_rx: mpsc::UnboundedReceiver<(u64, FetchEvent)>,
        mut pacer_rx: mpsc::UnboundedReceiver<(u64, PacerEvent)>,
        mut channel_rx: mpsc::UnboundedReceiver<(u64, ChannelEvent)>,
    ) {
        loop {
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(Command::Shutdown(done)) => {
                        self.shutdown().await;
                        let _ = done.send(());
                        return;
                    }
                    Some(cmd) => self.command(cmd).await,
                    None => {
                        self.shutdown().await;
                        return;
                    }
                },
                Some((session, event)) = fetch_rx.recv() => {
                    if self.is_current(session) {
                        self.fetched(event).await;
                    }
                }
                Some((session, event)) = pacer_rx.recv() => {
                    // What the fetch task said before (its end of track, which at --speed 0
                    // may race the playback's end) is handled first.
                    while let Ok((session, event)) = fetch_rx.try_recv() {
                        if self.is_current(session) {
                            self.fetched(event).await;
                        }
                    }
                    if self.is_current(session) {
                        self.paced(event).await;
                    }
                }
                Some((session, event)) = channel_rx.recv() => {
                    if self.channel.as_ref().is_some_and(|c| c.id == session) {
                        self.channel_event(event);
                    }
                }
            }
            self.publish();
        }
    }

    fn is_current(&self, session: u64) -> bool {
        self.session.as_ref().is_some_and(|s| s.id == session)
    }

    async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Load(id, reply) => {
                let r = self.load(&id).await.map(|()| self.status());
                let _ = reply.send(r);
            }
            Command::Channel(name, reply) => {
                let r = self.join(&name).await.map(|()| self.status());
                let _ = reply.send(r);
            }
            Command::Act(action, reply) => {
                let r = match action {
                    Action::Play => self.play().await,
                    Action::Pause => self.pause(),
                    Action::Resume => self.resume(),
                    Action::Stop => self.stop().await,
                    Action::Next => self.next().await,
                };
                self.publish();
                let _ = reply.send(r.map(|()| self.status()));
            }
            Command::QueueAdd(id, reply) => {
                let r = self.queue_add(&id).await.map(|()| self.queue_list());
                let _ = reply.send(r);
            }
            Command::QueueClear(reply) => {
                if !self.queue.is_empty() {
                    info!("queue cleared ({} tracks)", self.queue.len());
                }
                self.queue.clear();
                let _ = reply.send(Ok(Vec::new()));
            }
            Command::QueueList(reply) => {
                let _ = reply.send(Ok(self.queue_list()));
            }
            Command::Shutdown(_) => {}
        }
    }

    fn queue_list(&self) -> Vec<TrackInfo> {
        self.queue.iter().cloned().collect()
    }

    fn shown_state(&self) -> PlayState {
        if self.retrying && self.state == PlayState::Playing {
            PlayState::Retrying
        } else {
            self.state
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            status: RenderStatus {
                render: self.cfg.render.clone(),
                state: self.shown_state(),
                track: self.track.clone(),
                position_ms: 0,
                buffered_ms: 0,
                bytes_received: 0,
                server: self.server.clone(),
                failovers: self.failovers,
                last_failover: self.last_failover.clone(),
                error: self.error.clone(),
                underruns: self.underruns,
                channel: self.channel.as_ref().map(|c| ChannelPlay {
                    name: c.name.clone(),
                    title: c.title.clone(),
                    server: self.server.clone(),
                }),
            },
            live: self.session.as_ref().map(|s| Live {
                buffer: Arc::clone(&s.buffer),
                control: Arc::clone(s.pacer.control()),
                bytes_per_ms: s.bytes_per_ms,
            }),
            channel: self
                .channel
                .as_ref()
                .map(|c| (Arc::clone(&c.received), c.bytes_per_ms)),
        }
    }

    fn status(&self) -> RenderStatus {
        self.snapshot().status()
    }

    fn publish(&self) {
        self.snapshot.send_replace(self.snapshot());
    }

    /// Finds `id` on a live server of the group: the track, the server that answered, and the
    /// located list.
    async fn find_track(
        &self,
        id: &str,
    ) -> Result<(TrackInfo, ServerRef, Vec<ServerRef>), PlayError> {
        let list = self
            .locator
            .locate()
            .await
            .map_err(|reason| PlayError::NoServer {
                group: self.cfg.group.clone(),
                reason,
            })?;
        let mut not_found = false;
        let mut reason = String::from("the group has no live server");
        for server in &list {
            match self.client.track_info(server, id).await {
                Ok(track) => return Ok((track, server.clone(), list)),
                Err(CallError::NotFound(_)) => not_found = true,
                Err(CallError::Failed(why) | CallError::WrongTrack(why)) => reason = why,
            }
        }
        if not_found {
            Err(PlayError::UnknownTrack(id.to_owned()))
        } else {
            Err(PlayError::NoServer {
                group: self.cfg.group.clone(),
                reason,
            })
        }
    }

    /// Ends the playing session, if any, and waits until its fetch task is gone and its
    /// playback thread has let go of the sink: nothing of it runs once this returns (no late
    /// `open_stream` of its track, no late bytes to the sink). Its underruns are kept.
    async fn end_session(&mut self) {
        if let Some(mut session) = self.session.take() {
            self.underruns += session.buffer.underruns();
            session.pacer.control().stop();
            session.buffer.close();
            if let Some(fetch) = session.fetch.take() {
                fetch.abort();
                let _ = fetch.await;
            }
            if let Some(thread) = session.pacer.take_thread() {
                let joined = tokio::task::spawn_blocking(move || thread.join());
                if tokio::time::timeout(PACER_JOIN, joined).await.is_err() {
                    warn!("the playback thread did not end in {PACER_JOIN:?}; going on");
                }
            }
        }
        self.retrying = false;
    }

    /// The seed's `close_stream`, awaited (briefly): a close left in flight could land after a
    /// later `open_stream` of this render on that server and close the new stream.
    async fn close_remote(&self, server: &ServerRef) {
        let track = self.track.as_ref().map_or("-", |t| t.id.as_str());
        info!("close_stream {track} on {}", server.id);
        match tokio::time::timeout(
            CLOSE_TIMEOUT,
            self.client.close_stream(server, &self.cfg.render),
        )
        .await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => debug!("close_stream on {} failed: {e}", server.id),
            Err(_) => debug!("close_stream on {} timed out", server.id),
        }
    }

    /// Ends the previous track before another opens: its session (so a retrying fetch task
    /// cannot open the old track again after the new `open_stream`), then its stream.
    async fn release_previous(&mut self) {
        if self.leave_channel().await {
            self.server = None;
        }
        let old = self.server.take().or_else(|| self.opened.take());
        self.opened = None;
        self.end_session().await;
        if let Some(old) = old {
            self.close_remote(&old).await;
        }
    }

    /// The seed's `load_track`: locate → `get_track_info` → `open_stream` at 0.
    async fn load(&mut self, raw: &str) -> Result<(), PlayError> {
        let id = track_id(raw)?;
        let result = self.try_load(&id).await;
        if let Err(e) = &result {
            info!("load_track {id} failed: {e}");
        }
        result
    }

    async fn try_load(&mut self, id: &str) -> Result<(), PlayError> {
        let (track, server, list) = self.find_track(id).await?;
        info!(
            "load_track {id}: located {} -> {} {}",
            self.cfg.group, server.id, server.endpoint
        );
        info!(
            "get_track_info {id} -> '{}' by {} ({}, {} kbps)",
            track.title,
            track.artist,
            mm_ss(track.duration_ms),
            track.bitrate_kbps
        );
        // The answering server first, then the rest of the list.
        let mut order = vec![server.clone()];
        order.extend(list.iter().filter(|s| **s != server).cloned());
        let open = OpenStream {
            track_id: id.to_owned(),
            render_id: self.cfg.render.clone(),
            offset: 0,
        };
        // The previous track ends first: see `release_previous`.
        let had_previous =
            self.session.is_some() || self.opened.is_some() || self.channel.is_some();
        self.release_previous().await;
        if had_previous {
            self.state = PlayState::Stopped;
        }
        let mut opened = None;
        let mut reason = String::new();
        for candidate in &order {
            match self.client.open_stream(candidate, &open).await {
                Ok(_) => {
                    opened = Some(candidate.clone());
                    break;
                }
                Err(CallError::NotFound(m) | CallError::Failed(m) | CallError::WrongTrack(m)) => {
                    reason = m;
                }
            }
        }
        let Some(opened) = opened else {
            return Err(PlayError::NoServer {
                group: self.cfg.group.clone(),
                reason,
            });
        };
        info!(
            "open_stream {id} for {} at 0 on {}",
            self.cfg.render, opened.id
        );
        self.track = Some(track.clone());
        self.server = Some(opened.clone());
        self.opened = Some(opened.clone());
        self.located = order;
        self.state = PlayState::Loaded;
        self.error = None;
        info!("load_track {id}: loaded '{}'", track.title);
        self.events.emit(RenderEvent::Loaded {
            track_id: id.to_owned(),
            title: track.title.clone(),
            artist: track.artist.clone(),
            server: opened.id.clone(),
        });
        self.publish();
        Ok(())
    }

    fn start_session(&mut self) -> Result<(), PlayError> {
        let Some(track) = self.track.clone() else {
            return Err(PlayError::State(
                "nothing loaded: load a track first".into(),
            ));
        };
        let id = self.next_session;
        self.next_session += 1;
        let buffer = TrackBuffer::new(0);
        let bytes_per_ms = crate::pacer::bytes_per_ms(&track);
        let ahead_limit = self
            .cfg
            .buffer_ms
            .saturating_mul(bytes_per_ms)
            .max(2 * self.cfg.chunk as u64)
            .max(MIN_AHEAD);
        let pacer = Pacer::start(PacerJob {
            track: track.clone(),
            buffer: Arc::clone(&buffer),
            sink: Arc::clone(&self.sink),
            speed: self.cfg.speed,
            session: id,
            events: self.pacer_tx.clone(),
        })
        .map_err(|e| PlayError::Internal(format!("cannot start the playback thread: {e}")))?;
        let job = FetchJob {
            render: self.cfg.render.clone(),
            track: track.clone(),
            buffer: Arc::clone(&buffer),
            mode: self.cfg.fetch,
            chunk: self.cfg.chunk,
            ahead_limit,
            candidates: self.located.clone(),
            opened: self.opened.take(),
            session: id,
            events: self.fetch_tx.clone(),
        };
        let fetch = tokio::spawn(fetch::run(job, self.client.clone(), self.locator.clone()));
        self.session = Some(Session {
            id,
            buffer,
            pacer,
            fetch: Some(fetch),
            bytes_per_ms,
            stream_closed: false,
        });
        self.state = PlayState::Playing;
        self.sink.set_now(
            &self.cfg.render,
            &format!("{} - {}", track.artist, track.title),
        );
        info!("play {} '{}'", track.id, track.title);
        self.events
            .emit(RenderEvent::Playing(media::Playing::Track {
                track_id: track.id,
            }));
        Ok(())
    }

    async fn play(&mut self) -> Result<(), PlayError> {
        if self.channel.is_some() {
            // On a channel, play plays the queue's next track if there is one (leaving the
            // channel); otherwise the channel plays on.
            return match self.queue.pop_front() {
                Some(next) => self.advance(next).await,
                None => Ok(()),
            };
        }
        match self.state {
            PlayState::Playing | PlayState::Retrying => Ok(()),
            PlayState::Paused => self.resume(),
            PlayState::Loaded => self.start_session(),
            PlayState::Stopped if self.track.is_some() => {
                // Play after stop starts the track again.
                let id = self
                    .track
                    .as_ref()
                    .map(|t| t.id.clone())
                    .unwrap_or_default();
                self.load(&id).await?;
                self.start_session()
            }
            PlayState::Idle | PlayState::Stopped => match self.queue.pop_front() {
                Some(next) => self.advance(next).await,
                None => Err(PlayError::State(
                    "nothing loaded: load a track first (or add one to the queue)".into(),
                )),
            },
        }
    }

    fn position(&self) -> u64 {
        self.session
            .as_ref()
            .map_or(0, |s| s.pacer.control().position_ms())
    }

    fn track_id(&self) -> String {
        self.track
            .as_ref()
            .map(|t| t.id.clone())
            .unwrap_or_default()
    }

    fn pause(&mut self) -> Result<(), PlayError> {
        if let Some(c) = &self.channel {
            return Err(PlayError::State(format!(
                "cannot pause the live channel {}: stop leaves it",
                c.name
            )));
        }
        let Some(session) = self
            .session
            .as_ref()
            .filter(|_| self.state == PlayState::Playing)
        else {
            return Err(PlayError::State(format!(
                "cannot pause: the render is {}, not playing",
                state_name(self.state)
            )));
        };
        session.pacer.control().pause();
        self.state = PlayState::Paused;
        let position_ms = self.position();
        info!("pause {} at {} ms", self.track_id(), position_ms);
        self.events.emit(RenderEvent::Paused {
            track_id: self.track_id(),
            position_ms,
        });
        Ok(())
    }

    fn resume(&mut self) -> Result<(), PlayError> {
        let Some(session) = self
            .session
            .as_ref()
            .filter(|_| self.state == PlayState::Paused)
        else {
            return Err(PlayError::State(format!(
                "cannot resume: the render is {}, not paused",
                state_name(self.state)
            )));
        };
        session.pacer.control().resume();
        self.state = PlayState::Playing;
        let position_ms = self.position();
        info!("resume {} at {} ms", self.track_id(), position_ms);
        self.events
            .emit(RenderEvent::Playing(media::Playing::Resumed {
                track_id: self.track_id(),
                resumed: true,
                position_ms,
            }));
        Ok(())
    }

    async fn stop(&mut self) -> Result<(), PlayError> {
        if let Some(name) = self.channel.as_ref().map(|c| c.name.clone()) {
            self.release_previous().await;
            self.state = PlayState::Stopped;
            self.error = None;
            info!("stop: left channel {name}");
            self.events
                .emit(RenderEvent::Stopped(Stopped::Channel { channel: name }));
            return Ok(());
        }
        match self.state {
            PlayState::Idle => Err(PlayError::State(
                "nothing loaded: there is nothing to stop".into(),
            )),
            PlayState::Stopped => Ok(()),
            _ => {
                let position_ms = self.position();
                self.release_previous().await;
                self.state = PlayState::Stopped;
                self.error = None;
                info!("stop {} at {position_ms} ms", self.track_id());
                self.events.emit(RenderEvent::Stopped(Stopped::Track {
                    track_id: self.track_id(),
                    position_ms,
                }));
                Ok(())
            }
        }
    }

    async fn next(&mut self) -> Result<(), PlayError> {
        let Some(next) = self.queue.pop_front() else {
            return match self.state {
                PlayState::Idle => Err(PlayError::State(
                    "the queue is empty: there is no next track".into(),
                )),
                _ => {
                    info!("next: the queue is empty");
                    self.stop().await
                }
            };
        };
        info!("next: {} '{}'", next.id, next.title);
        self.advance(next).await
    }

    /// Loads and plays `next`, just taken from the queue. If it cannot be loaded it is not
    /// lost: while the previous track still plays (or is loaded) it goes back to the head of
    /// the queue; once nothing is left it becomes the current track, stopped, so `play` tries
    /// it again. Either way `error` says why.
    async fn advance(&mut self, next: TrackInfo) -> Result<(), PlayError> {
        if let Err(e) = self.load(&next.id).await {
            let error = format!("cannot play the next track {}: {e}", next.id);
            warn!("{error}");
            if self.session.is_some() || self.opened.is_some() || self.channel.is_some() {
                self.queue.push_front(next);
            } else {
                self.track = Some(next);
                self.server = None;
                self.state = PlayState::Stopped;
            }
            self.error = Some(error);
            return Err(e);
        }
        self.start_session()
    }

    async fn queue_add(&mut self, raw: &str) -> Result<(), PlayError> {
        let id = track_id(raw)?;
        let (track, _, _) = self.find_track(&id).await?;
        self.queue.push_back(track);
        info!(
            "queue add {id} '{}' ({} queued)",
            self.queue.back().map_or("", |t| t.title.as_str()),
            self.queue.len()
        );
        Ok(())
    }

    async fn fetched(&mut self, event: FetchEvent) {
        match event {
            FetchEvent::Serving { server, failover } => {
                if let Some(f) = failover {
                    self.failovers += 1;
                    self.cfg.metrics.failover(Playing::Track, f.gap_ms);
                    let from = f.from.as_ref().map_or("-", |s| s.id.as_str());
                    info!(
                        "failover {from} -> {} {} at offset {}: gap {:.2} ms ({} so far)",
                        f.to.id, f.to.endpoint, f.offset, f.gap_ms, self.failovers
                    );
                    self.events.emit(RenderEvent::Failover {
                        on: Subject::Track {
                            track_id: self.track_id(),
                        },
                        failover: f.clone(),
                    });
                    self.last_failover = Some(f);
                }
                if self.retrying {
                    info!("streaming again from {}", server.id);
                }
                self.server = Some(server);
                self.retrying = false;
                self.error = None;
            }
            FetchEvent::Retrying { error, offset } => {
                if !self.retrying && self.state == PlayState::Playing {
                    info!(
                        "playing -> retrying at offset {offset}: no MediaServer of {} answers",
                        self.cfg.group
                    );
                }
                self.retrying = true;
                self.server = None;
                self.error = Some(format!(
                    "no MediaServer of {} reachable, retrying: {error}",
                    self.cfg.group
                ));
            }
            FetchEvent::Complete { server, bytes } => {
                info!(
                    "end of stream from {}: empty chunk at {bytes} bytes",
                    server.id
                );
                self.close_remote(&server).await;
                if let Some(session) = self.session.as_mut() {
                    session.stream_closed = true;
                }
            }
        }
    }

    async fn paced(&mut self, event: PacerEvent) {
        let PacerEvent::Finished { bytes, position_ms } = event;
        let id = self.track_id();
        info!(
            "track_exhausted {id} after {bytes} bytes ({})",
            mm_ss(position_ms)
        );
        self.events.emit(RenderEvent::TrackExhausted {
            track_id: id,
            bytes,
            position_ms,
        });
        // Normally the fetch task's end of track closed the stream already; if it was not
        // handled (it raced this one), close it here so no stream is left open on the server.
        let closed = self.session.as_ref().is_some_and(|s| s.stream_closed);
        let server = self.server.take();
        self.end_session().await;
        if !closed && let Some(server) = server {
            self.close_remote(&server).await;
        }
        self.state = PlayState::Stopped;
        if let Some(next) = self.queue.pop_front() {
            info!("queue advances to {} '{}'", next.id, next.title);
            // On failure `advance` keeps the track and says why; the render stays stopped.
            let _ = self.advance(next).await;
        } else {
            info!("the queue is empty: stopped");
        }
    }

    /// Ends the channel task, if on a channel, and waits until it is gone (no late bytes to
    /// the sink). True if there was one.
    async fn leave_channel(&mut self) -> bool {
        let Some(mut c) = self.channel.take() else {
            return false;
        };
        if let Some(task) = c.task.take() {
            task.abort();
            let _ = task.await;
        }
        info!("channel {}: left", c.name);
        self.retrying = false;
        true
    }

    /// `POST /v1/channel`: locates the group, joins the channel on the first server that plays
    /// it, then ends what played (as a load does) and plays the channel.
    async fn join(&mut self, raw: &str) -> Result<(), PlayError> {
        let name = channel_name(raw)?;
        let result = self.try_join(&name).await;
        if let Err(e) = &result {
            info!("channel {name}: cannot join: {e}");
        }
        result
    }

    async fn try_join(&mut self, name: &str) -> Result<(), PlayError> {
        let list = self
            .locator
            .locate()
            .await
            .map_err(|reason| PlayError::NoServer {
                group: self.cfg.group.clone(),
                reason,
            })?;
        let (server, resp) =
            channel::join(&self.client, &list, name)
                .await
                .map_err(|e| match e {
                    JoinError::Unknown => PlayError::NotFound(format!(
                        "no such channel: {name} (no MediaServer of {} plays it)",
                        self.cfg.group
                    )),
                    JoinError::NoServer(reason) => PlayError::NoServer {
                        group: self.cfg.group.clone(),
                        reason,
                    },
                })?;
        self.release_previous().await;
        self.track = None;
        self.opened = None;
        let bytes_per_ms = channel::bytes_per_ms(&resp);
        let id = self.next_session;
        self.next_session += 1;
        let received = Arc::new(AtomicU64::new(0));
        let job = ChannelJob {
            name: name.to_owned(),
            first: (server.clone(), resp),
            sink: Arc::clone(&self.sink),
            received: Arc::clone(&received),
            session: id,
            events: self.channel_tx.clone(),
        };
        self.sink.track_starts(bytes_per_ms);
        self.sink.set_now(name, "");
        let task = tokio::spawn(channel::run(job, self.client.clone(), self.locator.clone()));
        self.channel = Some(ChannelSession {
            id,
            name: name.to_owned(),
            title: String::new(),
            task: Some(task),
            received,
            bytes_per_ms,
        });
        self.server = Some(server.clone());
        self.state = PlayState::Playing;
        self.retrying = false;
        self.error = None;
        info!(
            "channel {name}: joined on {} {} ({} kbit/s)",
            server.id,
            server.endpoint,
            bytes_per_ms * 8
        );
        self.events
            .emit(RenderEvent::Playing(media::Playing::Channel {
                channel: name.to_owned(),
                server: server.id.clone(),
            }));
        self.publish();
        Ok(())
    }

    fn channel_event(&mut self, event: ChannelEvent) {
        let Some(name) = self.channel.as_ref().map(|c| c.name.clone()) else {
            return;
        };
        match event {
            ChannelEvent::Serving { server, failover } => {
                if let Some(f) = failover {
                    self.failovers += 1;
                    self.cfg.metrics.failover(Playing::Channel, f.gap_ms);
                    let from = f.from.as_ref().map_or("-", |s| s.id.as_str());
                    info!(
                        "channel {name}: failover {from} -> {} {}: gap {:.2} ms ({} so far)",
                        f.to.id, f.to.endpoint, f.gap_ms, self.failovers
                    );
                    self.events.emit(RenderEvent::Failover {
                        on: Subject::Channel {
                            channel: name.clone(),
                        },
                        failover: f.clone(),
                    });
                    self.last_failover = Some(f);
                }
                if self.retrying {
                    info!("channel {name}: playing again from {}", server.id);
                }
                self.server = Some(server);
                self.retrying = false;
                self.error = None;
            }
            ChannelEvent::Title(title) => {
                info!("channel {name}: title '{title}'");
                self.sink.set_now(&name, &title);
                self.events.emit(RenderEvent::Title {
                    channel: name.clone(),
                    title: title.clone(),
                });
                if let Some(c) = self.channel.as_mut() {
                    c.title = title;
                }
            }
            ChannelEvent::Retrying { error } => {
                if !self.retrying && self.state == PlayState::Playing {
                    info!(
                        "channel {name}: playing -> retrying: no MediaServer of {} plays it",
                        self.cfg.group
                    );
                }
                self.retrying = true;
                self.server = None;
                self.error = Some(format!(
                    "no MediaServer of {} plays channel {name}, retrying: {error}",
                    self.cfg.group
                ));
            }
        }
    }

    async fn shutdown(&mut self) {
        self.release_previous().await;
        let sink = Arc::clone(&self.sink);
        let _ = tokio::task::spawn_blocking(move || sink.shutdown()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn track_ids_are_sixteen_hex_digits() {
        assert_eq!(track_id("0123456789ABCDEF").unwrap(), "0123456789abcdef");
        for bad in [
            "",
            "0123",
            "../../etc/passwd",
            "0123456789abcdeg",
            "0123456789abcdef0",
        ] {
            let err = track_id(bad).unwrap_err().to_string();
            assert!(err.contains("not a track id"), "{bad}: {err}");
        }
    }

    #[test]
    fn channel_names_are_short_lowercase_words() {
        assert_eq!(channel_name(" lounge ").unwrap(), "lounge");
        assert_eq!(channel_name("relay-2").unwrap(), "relay-2");
        for bad in ["", "Lounge", "a b", "../x", &"x".repeat(33)] {
            let err = channel_name(bad).unwrap_err().to_string();
            assert!(err.contains("not a channel name"), "{bad}: {err}");
        }
    }

    #[test]
    fn actions_parse_from_their_path() {
        assert_eq!(Action::parse("play"), Some(Action::Play));
        assert_eq!(Action::parse("next"), Some(Action::Next));
        assert_eq!(Action::parse("rewind"), None);
    }
}
