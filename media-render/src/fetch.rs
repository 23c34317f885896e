//! The fetch task of one playback: pulls the track from a MediaServer into the read-ahead
//! buffer, and fails over to another replica at the byte offset it holds whenever its server
//! fails (refused, reset, timed out, error status, a body cut short).
//!
//! End of track is only ever the server's empty chunk (the clean end of a `/data` body, or an
//! empty `get_audio_chunk`) with the offset equal to the track size; anything else is a failure.
//!
//! A `/data` body is not left parked while the buffer is full: it is dropped, and a new one is
//! asked for at the held offset once the buffer is half empty. Parking it would let the server's
//! kernel queue megabytes of the track (Linux grows a socket's send buffer to 4 MiB), and a
//! killed server's kernel still delivers that queue: the render would not see the death until
//! minutes of audio later, or never. Dropping it discards the queue; the next request finds out
//! at once whether the server lives. It costs one request per half buffer of audio.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use grid_proto::error::http_cause;
use grid_proto::media::{Failover, OpenStream, ServerRef, TrackInfo};
use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::buffer::TrackBuffer;
use crate::cli::FetchMode;
use crate::locate::Locator;
use crate::mediaserver::{CallError, MediaClient};
use crate::retry::{Candidates, GapClock};

/// A server that sends nothing for this long while the render waits for bytes is stuck.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// What the fetch task tells the player.
#[derive(Debug, Clone)]
pub enum FetchEvent {
    /// `server` is sending bytes; `failover` when it took over from a failed one.
    Serving {
        /// The server in use.
        server: ServerRef,
        /// The failover this completes, if any.
        failover: Option<Failover>,
    },
    /// No replica answered a whole round: retrying with a backoff, position held.
    Retrying {
        /// Why, in words.
        error: String,
        /// The offset held.
        offset: u64,
    },
    /// The server sent the empty chunk at the track's size.
    Complete {
        /// The server that ended it.
        server: ServerRef,
        /// Bytes of the track.
        bytes: u64,
    },
}

/// What one fetch needs.
#[derive(Debug, Clone)]
pub struct FetchJob {
    /// The render id on the wire.
    pub render: String,
    /// The track.
    pub track: TrackInfo,
    /// Where bytes go.
    pub buffer: Arc<TrackBuffer>,
    /// Stream or chunk.
    pub mode: FetchMode,
    /// Piece / chunk size.
    pub chunk: usize,
    /// Stop reading while the buffer holds this many bytes ahead of the player.
    pub ahead_limit: u64,
    /// Servers to try first, in order (the load's located list).
    pub candidates: Vec<ServerRef>,
    /// A server whose stream is already open at the buffer's offset (by `load_track`).
    pub opened: Option<ServerRef>,
    /// Where to send events, tagged with the session.
    pub session: u64,
    /// The player's inbox.
    pub events: mpsc::UnboundedSender<(u64, FetchEvent)>,
}

/// How one connection to a server ended.
enum Outcome {
    /// The track is all here.
    Complete,
    /// The session closed (stop, load): nothing more to do.
    Closed,
    /// The buffer is full: the body was dropped; ask again once there is room.
    Full,
    /// The server no longer has the stream (reaped during a long pause), or holds one of another
    /// track (a stale open landed after ours; the why): open it again there.
    Expired(Option<String>),
    /// The server failed; fail over.
    Failed(String),
}

/// Per-connection bookkeeping shared with the failover record.
struct Progress {
    /// The last byte and the pending failover's start.
    gap: GapClock,
    /// Has any byte arrived in this session?
    serving: Option<ServerRef>,
}

/// Runs until the track is complete or the buffer is closed.
pub async fn run(job: FetchJob, client: MediaClient, locator: Locator) {
    let mut candidates = Candidates::new(
        job.candidates
            .iter()
            .filter(|c| job.opened.as_ref() != Some(*c))
            .cloned(),
    );
    if let Some(opened) = &job.opened {
        candidates.push_front(opened.clone());
    }
    let mut opened = job.opened.clone();
    let mut progress = Progress {
        gap: GapClock::default(),
        serving: None,
    };
    let mut logged_start = false;
    // A stream reopened after the server lost it; a second loss in a row is a failure.
    let mut reopened = false;

    loop {
        if job.buffer.is_closed() {
            return;
        }
        let next = candidates
            .next(&locator, |last_error| {
                let offset = job.buffer.received();
                info!("retrying: no MediaServer answers ({last_error}); holding offset {offset}");
                let _ = job.events.send((
                    job.session,
                    FetchEvent::Retrying {
                        error: last_error.to_owned(),
                        offset,
                    },
                ));
            })
            .await;
        let Some(server) = next else {
            continue;
        };

        let offset = job.buffer.received();
        if opened.as_ref() != Some(&server) {
            let open = OpenStream {
                track_id: job.track.id.clone(),
                render_id: job.render.clone(),
                offset,
            };
            if let Err(e) = client.open_stream(&server, &open).await {
                candidates.failed(&server, describe(&server, &e));
                debug!(
                    "open_stream on {} failed: {}",
                    server.id,
                    candidates.last_error()
                );
                progress.gap.failed();
                continue;
            }
            if progress.gap.is_failing() || candidates.is_retrying() {
                info!(
                    "open_stream {} for {} at {offset} on {} {}",
                    job.track.id, job.render, server.id, server.endpoint
                );
            }
        }
        opened = None;
        if !logged_start {
            logged_start = true;
            info!(
                "get_audio_chunk loop started ({}, {}-byte pieces) from {} {}",
                job.mode.as_str(),
                job.chunk,
                server.id,
                server.endpoint
            );
        }

        let before = progress.gap.last_at();
        let outcome = match job.mode {
            FetchMode::Stream => pull_stream(&job, &client, &server, &mut progress).await,
            FetchMode::Chunk => pull_chunks(&job, &client, &server, &mut progress).await,
        };
        // A connection that gave bytes resets the retry state, however it ended: only a round
        // in which nothing answered backs off.
        if progress.gap.last_at() != before {
            reopened = false;
            candidates.progressed();
        }
        match outcome {
            Outcome::Complete => {
                job.buffer.finish();
                let _ = job.events.send((
                    job.session,
                    FetchEvent::Complete {
                        server,
                        bytes: job.buffer.received(),
                    },
                ));
                return;
            }
            Outcome::Closed => return,
            Outcome::Full => {
                if !wait_for_room(&job, job.ahead_limit / 2).await {
                    return;
                }
                // A failover's gap counts from when bytes are wanted again, not the idle wait.
                progress.gap.restart(Instant::now());
                candidates.push_front(server.clone());
                opened = Some(server);
            }
            Outcome::Expired(why) if !reopened => {
                reopened = true;
                match why {
                    Some(why) => info!("{why}: opening the stream again there"),
                    None => info!("{} no longer holds the stream: opening it again", server.id),
                }
                candidates.push_front(server);
            }
            Outcome::Expired(_) => {
                let why = format!("{} loses the stream it just opened", server.id);
                candidates.failed(&server, why);
                progress.gap.failed();
            }
            Outcome::Failed(why) => {
                if progress.serving.as_ref() == Some(&server) {
                    info!(
                        "{} failed at offset {}: {why}",
                        server.id,
                        job.buffer.received()
                    );
                }
                candidates.failed(&server, why);
                progress.gap.failed();
            }
        }
    }
}

fn describe(server: &ServerRef, e: &CallError) -> String {
    match e {
        CallError::NotFound(m) => format!("{} answered 404: {m}", server.id),
        CallError::Failed(m) | CallError::WrongTrack(m) => m.clone(),
    }
}

/// How a failed call ends the connection: a stream the server lost or holds for another track
/// is opened again there; anything else fails over.
fn ended_by(server: &ServerRef, e: CallError) -> Outcome {
    match e {
        CallError::NotFound(_) => Outcome::Expired(None),
        CallError::WrongTrack(why) => Outcome::Expired(Some(why)),
        e @ CallError::Failed(_) => Outcome::Failed(describe(server, &e)),
    }
}

/// Takes the bytes `server` sent at `at` into the buffer; bytes past the track's end (or a
/// buffer that refuses them) end the connection.
fn take(
    job: &FetchJob,
    server: &ServerRef,
    progress: &mut Progress,
    at: u64,
    bytes: &[u8],
) -> Result<(), Outcome> {
    let size = job.track.size;
    if at + bytes.len() as u64 > size {
        return Err(Outcome::Failed(format!(
            "{} sent more than the track's {size} bytes",
            server.id
        )));
    }
    received_from(job, server, progress, at);
    job.buffer
        .push(at, bytes)
        .map(drop)
        .map_err(|e| Outcome::Failed(e.to_string()))
}

/// Bytes arrived from `server`: records the failover it completes, if any.
fn received_from(job: &FetchJob, server: &ServerRef, progress: &mut Progress, offset: u64) {
    let now = Instant::now();
    if progress.serving.as_ref() != Some(server) || progress.gap.is_failing() {
        let failover = progress.gap.take_failover(server, offset, now);
        progress.serving = Some(server.clone());
        let _ = job.events.send((
            job.session,
            FetchEvent::Serving {
                server: server.clone(),
                failover,
            },
        ));
    }
    progress.gap.received(server, now);
}

/// Waits until the buffer holds less than `limit` ahead; false if the session closed meanwhile.
async fn wait_for_room(job: &FetchJob, limit: u64) -> bool {
    let mut changes = job.buffer.subscribe();
    loop {
        changes.borrow_and_update();
        if job.buffer.is_closed() {
            return false;
        }
        if job.buffer.ahead() < limit {
            return true;
        }
        if changes.changed().await.is_err() {
            return false;
        }
    }
}

async fn pull_stream(
    job: &FetchJob,
    client: &MediaClient,
    server: &ServerRef,
    progress: &mut Progress,
) -> Outcome {
    let offset = job.buffer.received();
    // Ask for what the read-ahead has room for, no more: a body left unread would sit in the
    // kernel's socket buffers (megabytes), where a dead server's bytes still arrive and hide its
    // death until they run out.
    let limit = job
        .ahead_limit
        .saturating_sub(job.buffer.ahead())
        .max(job.chunk as u64);
    let resp = match client
        .data(server, &job.render, &job.track, offset, job.chunk, limit)
        .await
    {
        Ok(r) => r,
        Err(e) => return ended_by(server, e),
    };
    // The server announced this size too (checked), or did not say.
    let size = job.track.size;
    let window_end = size.min(offset + limit);
    let mut body = resp.bytes_stream();
    loop {
        if job.buffer.is_closed() {
            return Outcome::Closed;
        }
        if job.buffer.ahead() >= job.ahead_limit {
            return Outcome::Full;
        }
        let piece = match tokio::time::timeout(READ_TIMEOUT, body.next()).await {
            Err(_) => {
                return Outcome::Failed(format!(
                    "{} sent nothing for {} ms",
                    server.id,
                    READ_TIMEOUT.as_millis()
                ));
            }
            Ok(None) => {
                let held = job.buffer.received();
                return if held == size {
                    Outcome::Complete
                } else if held == window_end {
                    Outcome::Full
                } else {
                    Outcome::Failed(format!(
                        "{} ended the body at {held} of {size} bytes",
                        server.id
                    ))
                };
            }
            Ok(Some(Err(e))) => {
                return Outcome::Failed(format!("{} broke off: {}", server.id, http_cause(&e)));
            }
            Ok(Some(Ok(piece))) => piece,
        };
        if piece.is_empty() {
            continue;
        }
        let at = job.buffer.received();
        if let Err(end) = take(job, server, progress, at, &piece) {
            return end;
        }
    }
}

async fn pull_chunks(
    job: &FetchJob,
    client: &MediaClient,
    server: &ServerRef,
    progress: &mut Progress,
) -> Outcome {
    let size = job.track.size;
    loop {
        if !wait_for_room(job, job.ahead_limit).await {
            return Outcome::Closed;
        }
        let at = job.buffer.received();
        let chunk = match client
            .chunk(server, &job.render, &job.track, at, job.chunk)
            .await
        {
            Ok(c) => c,
            Err(e) => return ended_by(server, e),
        };
        if chunk.is_empty() {
            return if at == size {
                Outcome::Complete
            } else {
                Outcome::Failed(format!(
                    "{} sent an empty chunk at {at} of {size} bytes",
                    server.id
                ))
            };
        }
        if let Err(end) = take(job, server, progress, at, &chunk) {
            return end;
        }
    }
}
