//! The player: one task that owns the render's state (its [`mode::Mode`]: nothing, a track or a
//! live channel; the queue; the failover record) and takes commands in order, so there are no
//! lock races between the control API, the fetch task and the playback thread. Status is read
//! through a watch channel, never waiting on the player.
//!
//! The MediaServer contract's flow, one log line per step: `load_track` → `get_track_info` → `open_stream` →
//! loaded; `play` → the fetch loop → the server's empty chunk → `close_stream` →
//! `track_exhausted`, then the queue advances.
//!
//! - `handle`: the commands and the control API's handle; `status`: what `status` reads.
//! - `mode`: what each mode holds; `failover`: the failovers of both.
//! - `track`: loading and playing tracks, the queue; `live`: live channels.

mod failover;
mod handle;
mod live;
mod mode;
pub(crate) mod status;
mod track;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use grid_proto::media::{RenderStatus, ServerRef, TrackInfo};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info};

use crate::channel::ChannelEvent;
use crate::cli::FetchMode;
use crate::events::Events;
use crate::fetch::FetchEvent;
use crate::locate::Locator;
use crate::mediaserver::MediaClient;
use crate::pacer::PacerEvent;
use crate::sink::Sink;

use self::failover::Failovers;
pub use self::handle::{Action, PlayerHandle};
use self::handle::{Command, StatusReply};
use self::mode::Mode;
use self::status::Snapshot;

/// How long the player waits for a MediaServer to close a stream (on exit too).
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);

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

struct Player {
    cfg: PlayerConfig,
    client: MediaClient,
    locator: Locator,
    events: Events,
    sink: Arc<Sink>,
    fetch_tx: mpsc::UnboundedSender<(u64, FetchEvent)>,
    pacer_tx: mpsc::UnboundedSender<(u64, PacerEvent)>,
    channel_tx: mpsc::UnboundedSender<(u64, ChannelEvent)>,
    mode: Mode,
    next_session: u64,
    queue: VecDeque<TrackInfo>,
    failovers: Failovers,
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
        readings: None,
    });
    let handle = PlayerHandle {
        tx,
        snapshot: snapshot.subscribe(),
        sink: Arc::clone(&sink),
    };
    let player = Player {
        failovers: Failovers::new(Arc::clone(&cfg.metrics)),
        cfg,
        client,
        locator,
        events,
        sink,
        fetch_tx,
        pacer_tx,
        channel_tx,
        mode: Mode::Idle { stopped: false },
        next_session: 1,
        queue: VecDeque::new(),
        error: None,
        underruns: 0,
        snapshot,
    };
    tokio::spawn(player.run(rx, fetch_rx, pacer_rx, channel_rx));
    handle
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
                    if matches!(&self.mode, Mode::Live(c) if c.id() == session) {
                        self.channel_event(event);
                    }
                }
            }
            self.publish();
        }
    }

    /// Is `session` the track session playing now?
    fn is_current(&self, session: u64) -> bool {
        self.mode.session().is_some_and(|s| s.id() == session)
    }

    /// A fresh id for a session or a channel, so late events of an ended one are ignored.
    fn new_session_id(&mut self) -> u64 {
        let id = self.next_session;
        self.next_session += 1;
        id
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
            Command::Act(action, reply) => self.act(action, reply).await,
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

    async fn act(&mut self, action: Action, reply: StatusReply) {
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

    fn queue_list(&self) -> Vec<TrackInfo> {
        self.queue.iter().cloned().collect()
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            status: RenderStatus {
                render: self.cfg.render.clone(),
                state: self.mode.state(),
                track: self.mode.track().cloned(),
                position_ms: 0,
                buffered_ms: 0,
                bytes_received: 0,
                server: self.mode.server().cloned(),
                failovers: self.failovers.count(),
                last_failover: self.failovers.last().cloned(),
                error: self.error.clone(),
                underruns: self.underruns,
                channel: self.mode.channel_play(),
            },
            readings: self.mode.readings(),
        }
    }

    fn status(&self) -> RenderStatus {
        self.snapshot().status()
    }

    fn publish(&self) {
        self.snapshot.send_replace(self.snapshot());
    }

    /// `close_stream`, awaited (briefly): a close left in flight could land after a
    /// later `open_stream` of this render on that server and close the new stream.
    /// The group's live servers, or why there are none.
    async fn located(&self) -> Result<Vec<ServerRef>, crate::error::PlayError> {
        self.locator
            .locate()
            .await
            .map_err(|reason| crate::error::PlayError::NoServer {
                group: self.cfg.group.clone(),
                reason,
            })
    }

    async fn close_remote(&self, server: &ServerRef) {
        let track = self.mode.track().map_or("-", |t| t.id.as_str());
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

    /// Ends what plays before another track or channel starts, and waits until nothing of it
    /// runs: a track's session (so a retrying fetch task cannot open the old track again after
    /// the new `open_stream`), then its stream; or the channel's task. A track stays, stopped;
    /// a channel left shows `stopped`.
    async fn release_previous(&mut self) {
        match &mut self.mode {
            Mode::Idle { .. } => {}
            Mode::Live(_) => {
                let Mode::Live(channel) =
                    std::mem::replace(&mut self.mode, Mode::Idle { stopped: true })
                else {
                    return;
                };
                channel.leave().await;
            }
            Mode::Track(track) => {
                let (old, session) = track.stop();
                if let Some(session) = session {
                    self.underruns += session.end().await;
                }
                if let Some(old) = old {
                    self.close_remote(&old).await;
                }
            }
        }
    }

    async fn shutdown(&mut self) {
        self.release_previous().await;
        let sink = Arc::clone(&self.sink);
        let _ = tokio::task::spawn_blocking(move || sink.shutdown()).await;
    }
}
