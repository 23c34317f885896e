//! Tracks: `load_track`, the transport controls, the queue, and what the fetch task and the
//! playback thread report.

use std::sync::Arc;

use grid_proto::ids::TrackId;
use grid_proto::media::{
    OpenStream, PlayState, Playing, RenderEvent, ServerRef, Stopped, Subject, TrackInfo,
};
use tracing::{info, warn};

use crate::buffer::TrackBuffer;
use crate::error::PlayError;
use crate::fetch::{self, FetchEvent, FetchJob};
use crate::mediaserver::CallError;
use crate::pacer::{Pacer, PacerEvent, PacerJob};

use super::Player;
use super::mode::{Mode, Phase, Session, TrackPlay};
use super::status::mm_ss;

/// The read-ahead never drops below this, whatever `--buffer-ms` says: a few network reads.
const MIN_AHEAD: u64 = 16 * 1024;

impl Player {
    /// Finds `id` on a live server of the group: the track, the server that answered, and the
    /// located list.
    async fn find_track(
        &self,
        id: &str,
    ) -> Result<(TrackInfo, ServerRef, Vec<ServerRef>), PlayError> {
        let list = self.located().await?;
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

    /// `load_track`: locate → `get_track_info` → `open_stream` at 0. A track id is refused
    /// before any server is asked when it is not one.
    pub(super) async fn load(&mut self, raw: &str) -> Result<(), PlayError> {
        let id = TrackId::from_input(raw)?;
        let result = self.try_load(id.as_str()).await;
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
        // The previous track ends first (it stays, stopped, if this one cannot be opened): see
        // `release_previous`.
        self.release_previous().await;
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
        self.error = None;
        info!("load_track {id}: loaded '{}'", track.title);
        self.events.emit(RenderEvent::Loaded {
            track_id: id.to_owned(),
            title: track.title.clone(),
            artist: track.artist.clone(),
            server: opened.id.clone(),
        });
        self.mode = Mode::Track(TrackPlay::loaded(track, opened, order));
        self.publish();
        Ok(())
    }

    /// Plays the loaded track: its buffer, playback thread and fetch task.
    fn start_session(&mut self) -> Result<(), PlayError> {
        let Mode::Track(play) = &mut self.mode else {
            return Err(PlayError::State(
                "nothing loaded: load a track first".into(),
            ));
        };
        let id = self.next_session;
        self.next_session += 1;
        let track = play.info().clone();
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
        let (candidates, opened) = play.start_from();
        let job = FetchJob {
            render: self.cfg.render.clone(),
            track: track.clone(),
            buffer: Arc::clone(&buffer),
            mode: self.cfg.fetch,
            chunk: self.cfg.chunk,
            ahead_limit,
            candidates,
            opened,
            session: id,
            events: self.fetch_tx.clone(),
        };
        let fetch = tokio::spawn(fetch::run(job, self.client.clone(), self.locator.clone()));
        play.play(Session::new(id, buffer, pacer, fetch, bytes_per_ms));
        self.sink.set_now(
            &self.cfg.render,
            &format!("{} - {}", track.artist, track.title),
        );
        info!("play {} '{}'", track.id, track.title);
        self.events
            .emit(RenderEvent::Playing(Playing::Track { track_id: track.id }));
        Ok(())
    }

    pub(super) async fn play(&mut self) -> Result<(), PlayError> {
        let again = match &self.mode {
            // On a channel, play plays the queue's next track if there is one (leaving the
            // channel); otherwise the channel plays on.
            Mode::Live(_) => {
                return match self.queue.pop_front() {
                    Some(next) => self.advance(next).await,
                    None => Ok(()),
                };
            }
            Mode::Track(play) => match play.phase() {
                Phase::Playing { paused: false, .. } => return Ok(()),
                Phase::Playing { paused: true, .. } => return self.resume(),
                Phase::Loaded { .. } => return self.start_session(),
                // Play after stop starts the track again.
                Phase::Stopped => play.info().id.clone(),
            },
            Mode::Idle { .. } => {
                return match self.queue.pop_front() {
                    Some(next) => self.advance(next).await,
                    None => Err(PlayError::State(
                        "nothing loaded: load a track first (or add one to the queue)".into(),
                    )),
                };
            }
        };
        self.load(&again).await?;
        self.start_session()
    }

    fn position(&self) -> u64 {
        self.mode.session().map_or(0, Session::position_ms)
    }

    fn track_id(&self) -> String {
        self.mode.track().map(|t| t.id.clone()).unwrap_or_default()
    }

    /// Pauses or resumes the playing session; false if there is none in the other state.
    fn set_paused(&mut self, to: bool) -> bool {
        match &mut self.mode {
            Mode::Track(play) => play.set_paused(to),
            _ => false,
        }
    }

    pub(super) fn pause(&mut self) -> Result<(), PlayError> {
        if let Mode::Live(c) = &self.mode {
            return Err(PlayError::State(format!(
                "cannot pause the live channel {}: stop leaves it",
                c.name()
            )));
        }
        let position_ms = self.pause_or_resume(true)?;
        self.events.emit(RenderEvent::Paused {
            track_id: self.track_id(),
            position_ms,
        });
        Ok(())
    }

    pub(super) fn resume(&mut self) -> Result<(), PlayError> {
        let position_ms = self.pause_or_resume(false)?;
        self.events.emit(RenderEvent::Playing(Playing::Resumed {
            track_id: self.track_id(),
            resumed: true,
            position_ms,
        }));
        Ok(())
    }

    /// Pauses (`paused`) or resumes the track and logs it: the position it stands at, or why not
    /// when the render is not playing (paused).
    fn pause_or_resume(&mut self, paused: bool) -> Result<u64, PlayError> {
        let (verb, want) = if paused {
            ("pause", "playing")
        } else {
            ("resume", "paused")
        };
        let state = self.mode.transport();
        if !self.set_paused(paused) {
            return Err(PlayError::State(format!(
                "cannot {verb}: the render is {}, not {want}",
                state.as_str()
            )));
        }
        let position_ms = self.position();
        info!("{verb} {} at {} ms", self.track_id(), position_ms);
        Ok(position_ms)
    }

    pub(super) async fn stop(&mut self) -> Result<(), PlayError> {
        if let Mode::Live(c) = &self.mode {
            let name = c.name().to_owned();
            self.release_previous().await;
            self.error = None;
            info!("stop: left channel {name}");
            self.events
                .emit(RenderEvent::Stopped(Stopped::Channel { channel: name }));
            return Ok(());
        }
        match self.mode.transport() {
            PlayState::Idle => Err(PlayError::State(
                "nothing loaded: there is nothing to stop".into(),
            )),
            PlayState::Stopped => Ok(()),
            _ => {
                let position_ms = self.position();
                self.release_previous().await;
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

    pub(super) async fn next(&mut self) -> Result<(), PlayError> {
        let Some(next) = self.queue.pop_front() else {
            return match self.mode.transport() {
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
            if self.mode.holds_something() {
                self.queue.push_front(next);
            } else {
                self.mode = Mode::Track(TrackPlay::stopped(next));
            }
            self.error = Some(error);
            return Err(e);
        }
        self.start_session()
    }

    pub(super) async fn queue_add(&mut self, raw: &str) -> Result<(), PlayError> {
        let id = TrackId::from_input(raw)?;
        let (track, _, _) = self.find_track(id.as_str()).await?;
        self.queue.push_back(track);
        info!(
            "queue add {id} '{}' ({} queued)",
            self.queue.back().map_or("", |t| t.title.as_str()),
            self.queue.len()
        );
        Ok(())
    }

    /// What the playing session's fetch task reports.
    pub(super) async fn fetched(&mut self, event: FetchEvent) {
        let track_id = self.track_id();
        let Mode::Track(play) = &mut self.mode else {
            return;
        };
        match event {
            FetchEvent::Serving { server, failover } => {
                if let Some(f) = failover {
                    let event = self.failovers.record(Subject::Track { track_id }, f);
                    self.events.emit(event);
                }
                let id = server.id.clone();
                if play.serving(server) {
                    info!("streaming again from {id}");
                }
                self.error = None;
            }
            FetchEvent::Retrying { error, offset } => {
                if play.retrying() {
                    info!(
                        "playing -> retrying at offset {offset}: no MediaServer of {} answers",
                        self.cfg.group
                    );
                }
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
                if let Mode::Track(play) = &mut self.mode {
                    play.stream_closed();
                }
            }
        }
    }

    /// The playing session's playback thread played the whole track.
    pub(super) async fn paced(&mut self, event: PacerEvent) {
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
        let Mode::Track(play) = &mut self.mode else {
            return;
        };
        // Normally the fetch task's end of track closed the stream already; if it was not
        // handled (it raced this one), close it here so no stream is left open on the server.
        let closed = play.session().is_some_and(Session::is_stream_closed);
        let (server, session) = play.stop();
        if let Some(session) = session {
            self.underruns += session.end().await;
        }
        if !closed && let Some(server) = server {
            self.close_remote(&server).await;
        }
        if let Some(next) = self.queue.pop_front() {
            info!("queue advances to {} '{}'", next.id, next.title);
            // On failure `advance` keeps the track and says why; the render stays stopped.
            let _ = self.advance(next).await;
        } else {
            info!("the queue is empty: stopped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a bad id reads as on the wire.
    fn track_id(raw: &str) -> Result<String, PlayError> {
        Ok(TrackId::from_input(raw)?.into())
    }

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
}
