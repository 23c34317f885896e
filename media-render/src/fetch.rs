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

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use grid_proto::media::{Failover, OpenStream, ServerRef, TrackInfo};
use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::buffer::TrackBuffer;
use crate::cli::FetchMode;
use crate::locate::Locator;
use crate::mediaserver::{CallError, MediaClient};

/// A server that sends nothing for this long while the render waits for bytes is stuck.
const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// First retry delay once no replica answers: loopback refusals are sub-millisecond, and a
/// restarted server must be picked up within tens of milliseconds.
pub(crate) const BACKOFF_START: Duration = Duration::from_millis(2);
/// Retry delay cap while every replica is dead, for the first [`BACKOFF_FAST_FOR`] of it: a
/// server restarted by its node is picked up within this.
const BACKOFF_CAP: Duration = Duration::from_millis(25);
/// How long the retries stay fast before they slow down toward [`BACKOFF_SLOW_CAP`].
const BACKOFF_FAST_FOR: Duration = Duration::from_secs(2);
/// Retry delay cap once every replica has been dead for a while: a render does not ask the
/// registry forty times a second forever.
const BACKOFF_SLOW_CAP: Duration = Duration::from_millis(500);
/// A server that failed is tried after the others for this long.
const RECENTLY_FAILED: Duration = Duration::from_secs(2);

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
    /// The last byte received, and from whom: the start of a failover's gap.
    last_byte: Option<(ServerRef, Instant)>,
    /// Set on a failure: the server whose last byte starts the gap.
    failed_from: Option<(ServerRef, Instant)>,
    /// Has any byte arrived in this session?
    serving: Option<ServerRef>,
}

/// The delay after `current` once nothing has answered for `retrying_for`: doubling, capped at
/// [`BACKOFF_CAP`] for the first [`BACKOFF_FAST_FOR`], then at [`BACKOFF_SLOW_CAP`].
pub(crate) fn next_backoff(current: Duration, retrying_for: Duration) -> Duration {
    let cap = if retrying_for < BACKOFF_FAST_FOR {
        BACKOFF_CAP
    } else {
        BACKOFF_SLOW_CAP
    };
    current.saturating_mul(2).min(cap).max(BACKOFF_START)
}

/// Servers that failed lately, with when.
#[derive(Debug, Default)]
pub(crate) struct RecentlyFailed(Vec<(ServerRef, Instant)>);

impl RecentlyFailed {
    pub(crate) fn add(&mut self, server: &ServerRef, now: Instant) {
        self.0.retain(|(s, _)| s != server);
        self.0.push((server.clone(), now));
    }

    /// `list` with the servers that failed in the last [`RECENTLY_FAILED`] moved to its end (in
    /// their order): a located list may still name a server that just died.
    pub(crate) fn order(&mut self, list: Vec<ServerRef>, now: Instant) -> VecDeque<ServerRef> {
        self.0
            .retain(|(_, at)| now.saturating_duration_since(*at) < RECENTLY_FAILED);
        let (failed, fresh): (Vec<_>, Vec<_>) = list
            .into_iter()
            .partition(|s| self.0.iter().any(|(f, _)| f == s));
        fresh.into_iter().chain(failed).collect()
    }
}

/// Runs until the track is complete or the buffer is closed.
pub async fn run(job: FetchJob, client: MediaClient, locator: Locator) {
    let mut candidates: VecDeque<ServerRef> = job.candidates.iter().cloned().collect();
    if let Some(opened) = &job.opened {
        candidates.retain(|c| c != opened);
        candidates.push_front(opened.clone());
    }
    let mut opened = job.opened.clone();
    let mut progress = Progress {
        last_byte: None,
        failed_from: None,
        serving: None,
    };
    // A locate since the last byte received: if its servers all fail too, back off.
    let mut located_since_progress = false;
    let mut backoff = BACKOFF_START;
    // When this streak of rounds without an answer began.
    let mut retrying_since: Option<Instant> = None;
    let mut recently_failed = RecentlyFailed::default();
    let mut retrying = false;
    let mut last_error = String::from("no MediaServer tried yet");
    let mut logged_start = false;
    // A stream reopened after the server lost it; a second loss in a row is a failure.
    let mut reopened = false;

    loop {
        if job.buffer.is_closed() {
            return;
        }
        let Some(server) = candidates.pop_front() else {
            if located_since_progress {
                if !retrying {
                    retrying = true;
                    let offset = job.buffer.received();
                    info!(
                        "retrying: no MediaServer answers ({last_error}); holding offset {offset}"
                    );
                    let _ = job.events.send((
                        job.session,
                        FetchEvent::Retrying {
                            error: last_error.clone(),
                            offset,
                        },
                    ));
                }
                tokio::time::sleep(backoff).await;
                let since = *retrying_since.get_or_insert_with(Instant::now);
                backoff = next_backoff(backoff, since.elapsed());
            }
            located_since_progress = true;
            match locator.locate().await {
                Ok(list) => candidates = recently_failed.order(list, Instant::now()),
                Err(e) => last_error = e,
            }
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
                last_error = describe(&server, &e);
                debug!("open_stream on {} failed: {last_error}", server.id);
                recently_failed.add(&server, Instant::now());
                note_failure(&mut progress);
                continue;
            }
            if progress.failed_from.is_some() || retrying {
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

        let before = progress.last_byte.as_ref().map(|(_, at)| *at);
        let outcome = match job.mode {
            FetchMode::Stream => pull_stream(&job, &client, &server, &mut progress).await,
            FetchMode::Chunk => pull_chunks(&job, &client, &server, &mut progress).await,
        };
        // A connection that gave bytes resets the retry state, however it ended: only a round
        // in which nothing answered backs off.
        if progress.last_byte.as_ref().map(|(_, at)| *at) != before {
            reopened = false;
            located_since_progress = false;
            backoff = BACKOFF_START;
            retrying_since = None;
            retrying = false;
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
                if let Some((_, at)) = progress.last_byte.as_mut() {
                    *at = Instant::now();
                }
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
                last_error = format!("{} loses the stream it just opened", server.id);
                recently_failed.add(&server, Instant::now());
                note_failure(&mut progress);
            }
            Outcome::Failed(why) => {
                if progress.serving.as_ref() == Some(&server) {
                    info!(
                        "{} failed at offset {}: {why}",
                        server.id,
                        job.buffer.received()
                    );
                }
                last_error = why;
                recently_failed.add(&server, Instant::now());
                note_failure(&mut progress);
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

fn note_failure(progress: &mut Progress) {
    if progress.failed_from.is_none() {
        progress.failed_from = progress.last_byte.clone();
    }
}

/// Bytes arrived from `server`: records the failover it completes, if any.
fn received_from(job: &FetchJob, server: &ServerRef, progress: &mut Progress, offset: u64) {
    let now = Instant::now();
    if progress.serving.as_ref() != Some(server) || progress.failed_from.is_some() {
        let failover = progress.failed_from.take().map(|(from, at)| Failover {
            from: Some(from),
            to: server.clone(),
            gap_ms: now.duration_since(at).as_secs_f64() * 1000.0,
            offset,
        });
        progress.serving = Some(server.clone());
        let _ = job.events.send((
            job.session,
            FetchEvent::Serving {
                server: server.clone(),
                failover,
            },
        ));
    }
    progress.last_byte = Some((server.clone(), now));
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
        Err(CallError::NotFound(_)) => return Outcome::Expired(None),
        Err(CallError::WrongTrack(why)) => return Outcome::Expired(Some(why)),
        Err(e) => return Outcome::Failed(describe(server, &e)),
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
                return Outcome::Failed(format!("{} broke off: {}", server.id, root(&e)));
            }
            Ok(Some(Ok(piece))) => piece,
        };
        if piece.is_empty() {
            continue;
        }
        let at = job.buffer.received();
        if at + piece.len() as u64 > size {
            return Outcome::Failed(format!(
                "{} sent more than the track's {size} bytes",
                server.id
            ));
        }
        received_from(job, server, progress, at);
        if let Err(e) = job.buffer.push(at, &piece) {
            return Outcome::Failed(e.to_string());
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
            Err(CallError::NotFound(_)) => return Outcome::Expired(None),
            Err(CallError::WrongTrack(why)) => return Outcome::Expired(Some(why)),
            Err(e) => return Outcome::Failed(describe(server, &e)),
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
        if at + chunk.len() as u64 > size {
            return Outcome::Failed(format!(
                "{} sent more than the track's {size} bytes",
                server.id
            ));
        }
        received_from(job, server, progress, at);
        if let Err(e) = job.buffer.push(at, &chunk) {
            return Outcome::Failed(e.to_string());
        }
    }
}

pub(crate) fn root(e: &reqwest::Error) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: &str) -> ServerRef {
        ServerRef {
            id: id.into(),
            endpoint: format!("http://{id}"),
        }
    }

    #[test]
    fn the_backoff_is_fast_for_two_seconds_then_slows_to_half_a_second() {
        let ms = Duration::from_millis;
        let mut delay = BACKOFF_START;
        let mut fast = vec![delay];
        for _ in 0..6 {
            delay = next_backoff(delay, ms(500));
            fast.push(delay);
        }
        assert_eq!(fast, [ms(2), ms(4), ms(8), ms(16), ms(25), ms(25), ms(25)]);
        let mut slow = Vec::new();
        for _ in 0..7 {
            delay = next_backoff(delay, ms(2500));
            slow.push(delay);
        }
        assert_eq!(
            slow,
            [ms(50), ms(100), ms(200), ms(400), ms(500), ms(500), ms(500)]
        );
        // Over ten seconds of a dead group the registry is asked a few dozen times, not 400.
        let (mut t, mut asks, mut delay) = (Duration::ZERO, 0, BACKOFF_START);
        while t < Duration::from_secs(10) {
            t += delay;
            asks += 1;
            delay = next_backoff(delay, t);
        }
        assert!(asks < 120, "{asks} locates in 10 s");
    }

    #[test]
    fn servers_that_failed_lately_go_last() {
        let now = Instant::now();
        let (a, b, c) = (server("a"), server("b"), server("c"));
        let mut failed = RecentlyFailed::default();
        failed.add(&a, now);
        let order = failed.order(vec![a.clone(), b.clone(), c.clone()], now);
        assert_eq!(order, [b.clone(), c.clone(), a.clone()]);
        // Still listed when it is the only one: a restart on the same address is found.
        let only = failed.order(vec![a.clone()], now);
        assert_eq!(only, std::slice::from_ref(&a));
        // After a while it is forgotten.
        let later = now + RECENTLY_FAILED;
        assert_eq!(
            failed.order(vec![a.clone(), b.clone()], later),
            [a.clone(), b.clone()]
        );
        assert!(failed.0.is_empty());
    }
}
