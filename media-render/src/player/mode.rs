//! What the player is doing: nothing, a track, or a live channel, each holding what it needs.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use grid_proto::live::ChannelPlay;
use grid_proto::media::{PlayState, ServerRef, TrackInfo};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::buffer::TrackBuffer;
use crate::pacer::Pacer;

use super::status::Readings;

/// How long ending a session waits for its playback thread to let go of the sink.
const PACER_JOIN: Duration = Duration::from_secs(1);

/// The player's mode.
#[derive(Debug)]
pub(super) enum Mode {
    /// No track and no channel: `idle` at start, `stopped` once a channel was left.
    Idle {
        /// A channel was left.
        stopped: bool,
    },
    /// A track, loaded, playing, paused or stopped.
    Track(TrackPlay),
    /// A joined live channel.
    Live(Channel),
}

impl Mode {
    /// The state `status` shows: `retrying` while playing with no MediaServer answering.
    pub(super) fn state(&self) -> PlayState {
        let retrying = match self {
            Self::Idle { .. } => false,
            Self::Track(t) => t.retrying,
            Self::Live(c) => c.retrying,
        };
        match self.transport() {
            PlayState::Playing if retrying => PlayState::Retrying,
            state => state,
        }
    }

    /// The state as the transport controls see it (never `retrying`).
    pub(super) fn transport(&self) -> PlayState {
        match self {
            Self::Idle { stopped: false } => PlayState::Idle,
            Self::Idle { stopped: true } => PlayState::Stopped,
            Self::Track(t) => match &t.phase {
                Phase::Loaded { .. } => PlayState::Loaded,
                Phase::Playing { paused: true, .. } => PlayState::Paused,
                Phase::Playing { .. } => PlayState::Playing,
                Phase::Stopped => PlayState::Stopped,
            },
            Self::Live(_) => PlayState::Playing,
        }
    }

    /// The MediaServer in use.
    pub(super) fn server(&self) -> Option<&ServerRef> {
        match self {
            Self::Idle { .. } => None,
            Self::Track(t) => t.server.as_ref(),
            Self::Live(c) => c.server.as_ref(),
        }
    }

    /// The current track.
    pub(super) fn track(&self) -> Option<&TrackInfo> {
        match self {
            Self::Track(t) => Some(&t.info),
            _ => None,
        }
    }

    /// Does anything hold a server's stream or a sink (a session, a loaded stream, a channel)?
    pub(super) fn holds_something(&self) -> bool {
        match self {
            Self::Idle { .. } => false,
            Self::Track(t) => !matches!(t.phase, Phase::Stopped),
            Self::Live(_) => true,
        }
    }

    /// The track's playing session, if any.
    pub(super) fn session(&self) -> Option<&Session> {
        match self {
            Self::Track(t) => t.session(),
            _ => None,
        }
    }

    /// The status parts read live at each `status`.
    pub(super) fn readings(&self) -> Option<Readings> {
        match self {
            Self::Idle { .. } => None,
            Self::Track(t) => t.session().map(|s| Readings::Track {
                buffer: Arc::clone(&s.buffer),
                control: Arc::clone(s.pacer.control()),
                bytes_per_ms: s.bytes_per_ms,
            }),
            Self::Live(c) => Some(Readings::Channel {
                received: Arc::clone(&c.received),
                bytes_per_ms: c.bytes_per_ms,
            }),
        }
    }

    /// The channel part of the status.
    pub(super) fn channel_play(&self) -> Option<ChannelPlay> {
        match self {
            Self::Live(c) => Some(ChannelPlay {
                name: c.name.clone(),
                title: c.title.clone(),
                server: c.server.clone(),
            }),
            _ => None,
        }
    }
}

/// A track and how far it got.
#[derive(Debug)]
pub(super) struct TrackPlay {
    info: TrackInfo,
    phase: Phase,
    /// The server in use (streaming, or holding the loaded stream).
    server: Option<ServerRef>,
    /// The list located at load: where the fetch task starts.
    located: Vec<ServerRef>,
    /// No MediaServer answers the fetch task: it retries with the position held.
    retrying: bool,
}

impl TrackPlay {
    /// Loaded from `opened`, which holds a stream opened at 0; `located` in the order to try.
    pub(super) fn loaded(info: TrackInfo, opened: ServerRef, located: Vec<ServerRef>) -> Self {
        Self {
            info,
            server: Some(opened.clone()),
            phase: Phase::Loaded { opened },
            located,
            retrying: false,
        }
    }

    /// Stopped with nothing held, so `play` loads it again.
    pub(super) fn stopped(info: TrackInfo) -> Self {
        Self {
            info,
            phase: Phase::Stopped,
            server: None,
            located: Vec::new(),
            retrying: false,
        }
    }

    /// The track.
    pub(super) fn info(&self) -> &TrackInfo {
        &self.info
    }

    /// Where it is.
    pub(super) fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Where a session's fetch task starts: the located list, and the server holding the
    /// loaded stream (if loaded).
    pub(super) fn start_from(&self) -> (Vec<ServerRef>, Option<ServerRef>) {
        let opened = match &self.phase {
            Phase::Loaded { opened } => Some(opened.clone()),
            _ => None,
        };
        (self.located.clone(), opened)
    }

    /// `session` plays it now (the loaded stream is its fetch task's).
    pub(super) fn play(&mut self, session: Session) {
        self.phase = Phase::Playing {
            session,
            paused: false,
        };
    }

    /// Pauses (`to`) or resumes the session; false if there is none in the other state.
    pub(super) fn set_paused(&mut self, to: bool) -> bool {
        let Phase::Playing { session, paused } = &mut self.phase else {
            return false;
        };
        if *paused == to {
            return false;
        }
        if to {
            session.pacer.control().pause();
        } else {
            session.pacer.control().resume();
        }
        *paused = to;
        true
    }

    /// `server` sends bytes; true if the track was retrying.
    pub(super) fn serving(&mut self, server: ServerRef) -> bool {
        self.server = Some(server);
        std::mem::replace(&mut self.retrying, false)
    }

    /// No server answers; true if it newly retries while playing (not paused).
    pub(super) fn retrying(&mut self) -> bool {
        let playing = matches!(self.phase, Phase::Playing { paused: false, .. });
        self.server = None;
        !std::mem::replace(&mut self.retrying, true) && playing
    }

    /// The fetch task's end of track was handled: the stream is closed on its server.
    pub(super) fn stream_closed(&mut self) {
        if let Phase::Playing { session, .. } = &mut self.phase {
            session.stream_closed = true;
        }
    }

    pub(super) fn session(&self) -> Option<&Session> {
        match &self.phase {
            Phase::Playing { session, .. } => Some(session),
            _ => None,
        }
    }

    /// Stops: the server in use (or holding the loaded stream) and the session, to be ended
    /// and closed by the caller.
    pub(super) fn stop(&mut self) -> (Option<ServerRef>, Option<Session>) {
        let phase = std::mem::replace(&mut self.phase, Phase::Stopped);
        let server = self.server.take();
        self.retrying = false;
        match phase {
            Phase::Loaded { opened } => (server.or(Some(opened)), None),
            Phase::Playing { session, .. } => (server, Some(session)),
            Phase::Stopped => (server, None),
        }
    }
}

/// Where a track is.
#[derive(Debug)]
pub(super) enum Phase {
    /// `opened` holds a stream opened at 0 and not read yet.
    Loaded { opened: ServerRef },
    /// A session plays it (or holds it paused).
    Playing { session: Session, paused: bool },
    /// Nothing held.
    Stopped,
}

/// One playing track: its buffer, fetch task and playback thread, ended together on drop.
#[derive(Debug)]
pub(super) struct Session {
    id: u64,
    buffer: Arc<TrackBuffer>,
    pacer: Pacer,
    fetch: Option<JoinHandle<()>>,
    bytes_per_ms: u64,
    /// The fetch task's end of track was handled: the stream is closed on its server.
    stream_closed: bool,
}

impl Session {
    pub(super) fn new(
        id: u64,
        buffer: Arc<TrackBuffer>,
        pacer: Pacer,
        fetch: JoinHandle<()>,
        bytes_per_ms: u64,
    ) -> Self {
        Self {
            id,
            buffer,
            pacer,
            fetch: Some(fetch),
            bytes_per_ms,
            stream_closed: false,
        }
    }

    /// Its id: events of other sessions are late.
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// Where playback is.
    pub(super) fn position_ms(&self) -> u64 {
        self.pacer.control().position_ms()
    }

    /// Was the stream closed at the fetch task's end of track?
    pub(super) fn is_stream_closed(&self) -> bool {
        self.stream_closed
    }

    /// Ends the session and waits until its fetch task is gone and its playback thread has let
    /// go of the sink: nothing of it runs once this returns (no late `open_stream` of its
    /// track, no late bytes to the sink). Its underruns.
    pub(super) async fn end(mut self) -> u32 {
        let underruns = self.buffer.underruns();
        self.pacer.control().stop();
        self.buffer.close();
        if let Some(fetch) = self.fetch.take() {
            fetch.abort();
            let _ = fetch.await;
        }
        if let Some(thread) = self.pacer.take_thread() {
            let joined = tokio::task::spawn_blocking(move || thread.join());
            if tokio::time::timeout(PACER_JOIN, joined).await.is_err() {
                warn!("the playback thread did not end in {PACER_JOIN:?}; going on");
            }
        }
        underruns
    }
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
#[derive(Debug)]
pub(super) struct Channel {
    id: u64,
    name: String,
    title: String,
    task: Option<JoinHandle<()>>,
    received: Arc<AtomicU64>,
    bytes_per_ms: u64,
    /// The server that plays it, none while retrying.
    server: Option<ServerRef>,
    /// No MediaServer plays it: the task retries.
    retrying: bool,
}

impl Channel {
    /// `name`, joined on `server`, played by `task`.
    pub(super) fn new(
        id: u64,
        name: String,
        server: ServerRef,
        task: JoinHandle<()>,
        received: Arc<AtomicU64>,
        bytes_per_ms: u64,
    ) -> Self {
        Self {
            id,
            name,
            title: String::new(),
            task: Some(task),
            received,
            bytes_per_ms,
            server: Some(server),
            retrying: false,
        }
    }

    /// Its id: events of other channel tasks are late.
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    /// The channel's name.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// Its new title.
    pub(super) fn set_title(&mut self, title: String) {
        self.title = title;
    }

    /// `server` plays it; true if it was retrying.
    pub(super) fn serving(&mut self, server: ServerRef) -> bool {
        self.server = Some(server);
        std::mem::replace(&mut self.retrying, false)
    }

    /// No server plays it; true if it newly retries.
    pub(super) fn retrying(&mut self) -> bool {
        self.server = None;
        !std::mem::replace(&mut self.retrying, true)
    }

    /// Ends the channel task and waits until it is gone (no late bytes to the sink).
    pub(super) async fn leave(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        info!("channel {}: left", self.name);
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
