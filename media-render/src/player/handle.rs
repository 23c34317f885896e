//! The control API's side of the player: the commands it sends and the handle it holds.

use std::sync::Arc;

use grid_proto::media::{RenderStatus, TrackInfo};
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::PlayError;
use crate::sink::{NowPlaying, Sink};

use super::status::Snapshot;

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

pub(super) type StatusReply = oneshot::Sender<Result<RenderStatus, PlayError>>;
pub(super) type QueueReply = oneshot::Sender<Result<Vec<TrackInfo>, PlayError>>;

pub(super) enum Command {
    Load(String, StatusReply),
    Channel(String, StatusReply),
    Act(Action, StatusReply),
    QueueAdd(String, QueueReply),
    QueueClear(QueueReply),
    QueueList(QueueReply),
    Shutdown(oneshot::Sender<()>),
}

/// The control API's handle on the player. Cheap to clone.
#[derive(Debug, Clone)]
pub struct PlayerHandle {
    pub(super) tx: mpsc::Sender<Command>,
    pub(super) snapshot: watch::Receiver<Snapshot>,
    pub(super) sink: Arc<Sink>,
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

    /// `load_track`: the track, located and its stream opened at 0.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse_from_their_path() {
        assert_eq!(Action::parse("play"), Some(Action::Play));
        assert_eq!(Action::parse("next"), Some(Action::Next));
        assert_eq!(Action::parse("rewind"), None);
    }
}
