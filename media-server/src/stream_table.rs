//! The table of open streams, one per render, and the reaping of those whose render went
//! away.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tracing::info;

use crate::error::ApiError;
use crate::library::Track;

/// The longest pause between two reaper passes.
const MAX_REAP_INTERVAL: Duration = Duration::from_secs(5);

/// The open streams, by render.
#[derive(Debug)]
pub struct Streams {
    by_render: Mutex<HashMap<String, Arc<Stream>>>,
    idle: Duration,
    /// At most this many streams (each holds a file descriptor).
    max: usize,
}

/// One render's stream.
#[derive(Debug)]
pub struct Stream {
    /// The render it serves.
    pub render: String,
    /// The track, as it was when the stream opened (a rescan does not change it).
    pub track: Arc<Track>,
    /// Open since the stream opened, so a rescan or a removed file does not cut it.
    pub file: Arc<File>,
    /// Where it stands; a std mutex, never held across an await.
    pub position: Mutex<Position>,
    /// Closed, replaced or reaped: a `/data` body still running is cut.
    pub closed: AtomicBool,
    /// `/data` bodies being written: a stream with one is in use, however long it takes.
    pub bodies: AtomicUsize,
}

/// A stream's position and use.
#[derive(Debug)]
pub struct Position {
    /// The next byte a chunk without an offset starts at.
    pub offset: u64,
    /// The last chunk, or the end of the last `/data` body.
    pub last_used: Instant,
    /// Whether the end of the track was reported and logged since the last byte served.
    pub at_end: bool,
}

/// Locks `mutex`, poisoned or not.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded data stay consistent even if a holder panicked: every update is one store.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Stream {
    /// A stream of `track` read from `file` (opened when the stream was), at `offset`.
    pub fn new(render: String, track: Arc<Track>, file: File, offset: u64) -> Arc<Self> {
        Arc::new(Self {
            render,
            track,
            file: Arc::new(file),
            position: Mutex::new(Position {
                offset,
                last_used: Instant::now(),
                at_end: false,
            }),
            closed: AtomicBool::new(false),
            bodies: AtomicUsize::new(0),
        })
    }

    /// The track's size.
    pub fn size(&self) -> u64 {
        self.track.info.size
    }

    /// Logs the end of the track once per arrival there.
    pub fn reached_end(&self, position: &mut Position) {
        if !position.at_end {
            position.at_end = true;
            info!(
                "render {} reached the end of track {} ({} bytes)",
                self.render,
                self.track.info.id,
                self.size()
            );
        }
    }

    /// The 416 for an offset past the end.
    pub fn past_end(&self, offset: u64) -> ApiError {
        ApiError::Unsatisfiable {
            message: format!(
                "offset {offset} is past the end of track {} ({} bytes)",
                self.track.info.id,
                self.size()
            ),
            size: self.size(),
        }
    }
}

impl Streams {
    /// No streams; at most `max` of them (at least 1), those untouched for `idle` reaped by
    /// [`Streams::reap_idle`].
    pub fn new(idle: Duration, max: usize) -> Self {
        Self {
            by_render: Mutex::new(HashMap::new()),
            idle,
            max: max.max(1),
        }
    }

    /// How many streams are open.
    pub fn len(&self) -> usize {
        lock(&self.by_render).len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The render's stream, or a 404.
    pub fn get(&self, render: &str) -> Result<Arc<Stream>, ApiError> {
        lock(&self.by_render)
            .get(render)
            .cloned()
            .ok_or_else(|| ApiError::no_such_stream(render))
    }

    /// Closes every stream (the server is stopping): `/data` bodies end as cut, so renders
    /// fail over at once.
    pub fn close_all(&self) {
        for (_, stream) in lock(&self.by_render).drain() {
            stream.closed.store(true, Ordering::Relaxed);
        }
    }

    /// Drops the streams untouched for longer than the idle timeout, every
    /// `min(idle / 4, 5 s)`, forever.
    pub async fn reap_idle(self: Arc<Self>) {
        let mut ticks = tokio::time::interval(
            (self.idle / 4).clamp(Duration::from_millis(10), MAX_REAP_INTERVAL),
        );
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            self.reap(Instant::now());
        }
    }

    fn reap(&self, now: Instant) {
        lock(&self.by_render).retain(|render, stream| {
            if stream.bodies.load(Ordering::Relaxed) > 0 {
                return true;
            }
            let position = lock(&stream.position);
            let idle = now.saturating_duration_since(position.last_used);
            if idle <= self.idle {
                return true;
            }
            stream.closed.store(true, Ordering::Relaxed);
            info!(
                "reaped the stream of render {render} (track {}, at byte {}): idle for {} ms",
                stream.track.info.id,
                position.offset,
                idle.as_millis()
            );
            false
        });
    }

    /// Opens `stream`, replacing (and closing) any stream of its render; says whether it did.
    /// A new render's stream beyond the cap first reaps the least recently used stream with no
    /// `/data` body running; with none, it is refused (503) and the table is unchanged.
    pub fn insert(&self, stream: Arc<Stream>) -> Result<bool, ApiError> {
        let mut by_render = lock(&self.by_render);
        if !by_render.contains_key(&stream.render) && by_render.len() >= self.max {
            let now = Instant::now();
            let idlest = by_render
                .iter()
                .filter(|(_, s)| s.bodies.load(Ordering::Relaxed) == 0)
                .map(|(render, s)| (lock(&s.position).last_used, render))
                .min()
                .map(|(last_used, render)| (last_used, render.clone()));
            let Some((last_used, render)) = idlest else {
                return Err(ApiError::Unavailable(format!(
                    "too many open streams ({}), all with a body running; render {} cannot open one",
                    by_render.len(),
                    stream.render
                )));
            };
            if let Some(old) = by_render.remove(&render) {
                old.closed.store(true, Ordering::Relaxed);
                info!(
                    "reaped the stream of render {render} (track {}, at byte {}, idle for {} ms): \
                     {} streams open, the most allowed, and render {} opens one",
                    old.track.info.id,
                    lock(&old.position).offset,
                    now.saturating_duration_since(last_used).as_millis(),
                    self.max,
                    stream.render
                );
            }
        }
        let replaced = by_render.insert(stream.render.clone(), stream);
        if let Some(old) = &replaced {
            old.closed.store(true, Ordering::Relaxed);
        }
        Ok(replaced.is_some())
    }

    /// Closes the render's stream, if it has one.
    pub fn remove(&self, render: &str) -> Option<Arc<Stream>> {
        let removed = lock(&self.by_render).remove(render);
        if let Some(stream) = &removed {
            stream.closed.store(true, Ordering::Relaxed);
        }
        removed
    }
}
