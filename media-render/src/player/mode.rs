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
    pub(super) info: TrackInfo,
    pub(super) phase: Phase,
    /// The server in use (streaming, or holding the loaded stream).
    pub(super) server: Option<ServerRef>,
    /// The list located at load: where the fetch task starts.
    pub(super) located: Vec<ServerRef>,
    /// No MediaServer answers the fetch task: it retries with the position held.
    pub(super) retrying: bool,
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

    pub(super) fn session(&self) -> Option<&Session> {
        match &self.phase {
            Phase::Playing { session, .. } => Some(session),
            _ => None,
        }
    }

    pub(super) fn session_mut(&mut self) -> Option<&mut Session> {
        match &mut self.phase {
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
    pub(super) id: u64,
    pub(super) buffer: Arc<TrackBuffer>,
    pub(super) pacer: Pacer,
    pub(super) fetch: Option<JoinHandle<()>>,
    pub(super) bytes_per_ms: u64,
    /// The fetch task's end of track was handled: the stream is closed on its server.
    pub(super) stream_closed: bool,
}

impl Session {
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
    pub(super) id: u64,
    pub(super) name: String,
    pub(super) title: String,
    pub(super) task: Option<JoinHandle<()>>,
    pub(super) received: Arc<AtomicU64>,
    pub(super) bytes_per_ms: u64,
    /// The server that plays it, none while retrying.
    pub(super) server: Option<ServerRef>,
    /// No MediaServer plays it: the task retries.
    pub(super) retrying: bool,
}

impl Channel {
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
