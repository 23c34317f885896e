//! The render on a live channel (`docs/live.md`, "Renders on a channel"): the channel task reads
//! `GET /live/{name}` of a MediaServer with `Icy-MetaData: 1`, parses it with the ICY decoder and
//! writes the audio to the sink as it arrives. A live stream is paced by its source, so there is
//! no read-ahead and no pacing here; the titles of its metadata blocks go to the player.
//!
//! A live stream never ends: a body that ends, breaks, fails to parse or sends nothing for
//! [`READ_TIMEOUT`] is a failed server. The task then locates the group again (the failed server
//! last) and joins the channel on a live replica, which starts it at the live edge with its
//! burst; the player counts that as a failover, its gap the time without audio. With no replica
//! live it retries with the backoff of a track's fetch.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use grid_proto::error::http_cause;
use grid_proto::icy::{Decoder, Item};
use grid_proto::media::{Failover, ServerRef};
use grid_proto::splice::{Spliced, Splicer};
use tokio::sync::mpsc;
use tracing::{debug, info};

use crate::locate::Locator;
use crate::mediaserver::{CallError, MediaClient};
use crate::retry::{Candidates, GapClock};
use crate::sink::Sink;

/// A server that sends nothing for this long is dead, as for a track.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);
/// The bitrate assumed when a server does not say (`icy-br`), in kbit/s.
const DEFAULT_KBPS: u64 = 128;

/// What the channel task tells the player.
#[derive(Debug, Clone)]
pub enum ChannelEvent {
    /// `server` sends audio; `failover` when it took over from a failed one.
    Serving {
        /// The server in use.
        server: ServerRef,
        /// The failover this completes, if any.
        failover: Option<Failover>,
    },
    /// The channel's `StreamTitle` changed (the first one included).
    Title(String),
    /// No replica plays the channel: retrying with a backoff.
    Retrying {
        /// Why, in words.
        error: String,
    },
}

/// One joined channel's task.
#[derive(Debug)]
pub struct ChannelJob {
    /// Channel name.
    pub name: String,
    /// The server joined by the player, with its reply (head read, body not yet).
    pub first: (ServerRef, reqwest::Response),
    /// Where the audio goes.
    pub sink: Arc<Sink>,
    /// Audio bytes received so far (shown as `bytes_received`).
    pub received: Arc<AtomicU64>,
    /// The session, to tag events.
    pub session: u64,
    /// The player's inbox.
    pub events: mpsc::UnboundedSender<(u64, ChannelEvent)>,
}

/// Why joining failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinError {
    /// Every server that answered said 404.
    Unknown,
    /// No server answered; the last failure.
    NoServer(String),
}

/// Joins `name` on the first of `servers` that plays it.
pub async fn join(
    client: &MediaClient,
    servers: &[ServerRef],
    name: &str,
) -> Result<(ServerRef, reqwest::Response), JoinError> {
    let mut not_found = false;
    let mut reason = String::from("the group has no live server");
    for server in servers {
        match client.live(server, name).await {
            Ok(resp) => return Ok((server.clone(), resp)),
            Err(CallError::NotFound(_)) => not_found = true,
            Err(CallError::Failed(m) | CallError::WrongTrack(m)) => reason = m,
        }
    }
    if not_found {
        Err(JoinError::Unknown)
    } else {
        Err(JoinError::NoServer(reason))
    }
}

/// The channel's bitrate in bytes per ms, from the reply's `icy-br`.
pub fn bytes_per_ms(resp: &reqwest::Response) -> u64 {
    let kbps = resp
        .headers()
        .get("icy-br")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let v = v.trim();
            let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
            v[..digits].parse::<u64>().ok()
        })
        .filter(|k| *k > 0)
        .unwrap_or(DEFAULT_KBPS);
    (kbps / 8).max(1)
}

/// The reply's `icy-metaint`: `None` for a plain stream; an error when it is not a number.
fn metaint(resp: &reqwest::Response) -> Result<Option<NonZeroUsize>, String> {
    match resp.headers().get("icy-metaint") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<NonZeroUsize>().ok())
            .map(Some)
            .ok_or_else(|| format!("bad icy-metaint {v:?}")),
    }
}

/// Where the task is, across connections.
struct Progress {
    /// The last audio received and the pending failover's start.
    gap: GapClock,
    /// The title last told to the player.
    title: Option<String>,
    /// Joins the replica's audio to what was played, without repeating its burst.
    splice: Splicer,
}

/// Runs until aborted by the player (leave, stop, load, exit).
pub async fn run(job: ChannelJob, client: MediaClient, locator: Locator) {
    let ChannelJob {
        name,
        first,
        sink,
        received,
        session,
        events,
    } = job;
    let job = Job {
        name,
        sink,
        received,
        session,
        events,
    };
    let mut next = Some(first);
    let mut progress = Progress {
        gap: GapClock::default(),
        title: None,
        splice: Splicer::default(),
    };
    let mut candidates = Candidates::new([]);

    loop {
        let (server, resp) = match next.take() {
            Some(joined) => joined,
            None => {
                let next = candidates
                    .next(&locator, |last_error| {
                        info!(
                            "channel {}: retrying: no MediaServer plays it ({last_error})",
                            job.name
                        );
                        job.send(ChannelEvent::Retrying {
                            error: last_error.to_owned(),
                        });
                    })
                    .await;
                let Some(server) = next else {
                    continue;
                };
                match client.live(&server, &job.name).await {
                    Ok(resp) => {
                        info!(
                            "channel {}: joined again on {} {}",
                            job.name, server.id, server.endpoint
                        );
                        (server, resp)
                    }
                    Err(e) => {
                        let why = match e {
                            CallError::NotFound(m) => {
                                format!("{} does not play the channel: {m}", server.id)
                            }
                            CallError::Failed(m) | CallError::WrongTrack(m) => m,
                        };
                        debug!("channel {}: {why}", job.name);
                        candidates.failed(&server, why);
                        continue;
                    }
                }
            }
        };
        let before = progress.gap.last_at();
        let why = job.listen(&server, resp, &mut progress).await;
        if progress.gap.last_at() != before {
            candidates.progressed();
        }
        info!("channel {}: {} failed: {why}", job.name, server.id);
        candidates.failed(&server, why);
        progress.gap.failed();
    }
}

/// The parts of [`ChannelJob`] the loop uses.
struct Job {
    name: String,
    sink: Arc<Sink>,
    received: Arc<AtomicU64>,
    session: u64,
    events: mpsc::UnboundedSender<(u64, ChannelEvent)>,
}

impl Job {
    fn send(&self, event: ChannelEvent) {
        let _ = self.events.send((self.session, event));
    }

    /// Plays one connection until it fails; why it did.
    async fn listen(
        &self,
        server: &ServerRef,
        resp: reqwest::Response,
        progress: &mut Progress,
    ) -> String {
        let metaint = match metaint(&resp) {
            Ok(m) => m,
            Err(e) => return format!("{} answered {e}", server.id),
        };
        let mut decoder = Decoder::body(metaint);
        let mut body = resp.bytes_stream();
        let mut serving = false;
        progress.splice.rejoin();
        loop {
            let piece = match tokio::time::timeout(READ_TIMEOUT, body.next()).await {
                Err(_) => {
                    return format!(
                        "{} sent nothing for {} ms",
                        server.id,
                        READ_TIMEOUT.as_millis()
                    );
                }
                Ok(None) => return format!("{} ended the stream", server.id),
                Ok(Some(Err(e))) => return format!("{} broke off: {}", server.id, http_cause(&e)),
                Ok(Some(Ok(piece))) => piece,
            };
            decoder.feed(&piece);
            loop {
                match decoder.next() {
                    Ok(None) => break,
                    Err(e) => return format!("{} sent a bad ICY stream: {e}", server.id),
                    Ok(Some(Item::Audio { data, .. })) => {
                        if data.is_empty() {
                            continue;
                        }
                        let now = Instant::now();
                        let (data, spliced) = progress.splice.push(&data, now);
                        match spliced {
                            Some(Spliced::Joined(skipped)) => info!(
                                "channel {}: joined {}'s audio to what was played ({skipped} bytes of its burst already played)",
                                self.name, server.id
                            ),
                            Some(Spliced::Differs) => info!(
                                "channel {}: {}'s audio does not continue what was played; it follows as it is",
                                self.name, server.id
                            ),
                            None => {}
                        }
                        if data.is_empty() {
                            continue;
                        }
                        let received = self.received.load(Ordering::Relaxed);
                        if !serving {
                            serving = true;
                            let failover = progress.gap.take_failover(server, received, now);
                            self.send(ChannelEvent::Serving {
                                server: server.clone(),
                                failover,
                            });
                        }
                        self.sink.write(&data);
                        self.received
                            .store(received + data.len() as u64, Ordering::Relaxed);
                        progress.gap.received(server, now);
                    }
                    Ok(Some(Item::Metadata {
                        metadata: Some(meta),
                        ..
                    })) => {
                        if let Some(title) = meta.stream_title
                            && progress.title.as_ref() != Some(&title)
                        {
                            progress.title = Some(title.clone());
                            self.send(ChannelEvent::Title(title));
                        }
                    }
                    Ok(Some(_)) => {}
                }
            }
        }
    }
}
