//! The read-ahead buffer of one track: bytes in stream order from the fetch task, read by the
//! decoder (a blocking thread) and released to the sink by the pacer.
//!
//! It holds the byte offset of everything received, so a failover resumes exactly there, and
//! refuses a chunk that does not start at that offset: no byte is ever lost or repeated.

use std::io::Read;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;

/// Bytes released and decoded are dropped from memory once this many have piled up.
const TRIM_AT: usize = 256 * 1024;
/// The decoder reads at most this much at a time: symphonia buffers one read ahead of what it
/// has parsed, so the decoder's position is within this of the packet it is playing.
pub const MAX_READ: usize = 1024;

/// A chunk that does not continue the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("chunk at offset {got} does not continue the stream at {held}")]
pub struct OffsetMismatch {
    /// The offset held (everything before it was received).
    pub held: u64,
    /// The chunk's offset.
    pub got: u64,
}

#[derive(Debug)]
struct Inner {
    /// Where the session started: waiting before anything played is not an underrun.
    start: u64,
    /// Stream offset of `data[0]`.
    base: u64,
    data: Vec<u8>,
    /// Everything up to here went to the sink.
    released: u64,
    /// The decoder has read up to here (`u64::MAX` once it no longer reads).
    decoded: u64,
    /// The server said end of track.
    complete: bool,
    /// The session is over: readers stop.
    closed: bool,
    /// Count a reader's wait as an underrun (set once playback is under way, in real time).
    watch_underruns: bool,
    /// Times the reader ran dry before the track was complete.
    underruns: u32,
}

impl Inner {
    fn received(&self) -> u64 {
        self.base + self.data.len() as u64
    }

    fn trim(&mut self) {
        let keep_from = self.released.min(self.decoded);
        let drop = keep_from.saturating_sub(self.base) as usize;
        if drop >= TRIM_AT {
            self.data.drain(..drop);
            self.base += drop as u64;
        }
    }
}

/// The buffer of one playback session; shared by the fetch task, decoder and pacer.
#[derive(Debug)]
pub struct TrackBuffer {
    inner: Mutex<Inner>,
    /// Wakes the blocking decoder.
    cond: Condvar,
    /// Wakes async waiters (fetcher waiting for room, pacer waiting for bytes).
    changed: watch::Sender<()>,
}

impl TrackBuffer {
    /// An empty buffer for a stream that starts at `start`.
    pub fn new(start: u64) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                start,
                base: start,
                data: Vec::new(),
                released: start,
                decoded: start,
                complete: false,
                closed: false,
                watch_underruns: false,
                underruns: 0,
            }),
            cond: Condvar::new(),
            changed: watch::Sender::new(()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wake(&self) {
        self.cond.notify_all();
        self.changed.send_replace(());
    }

    /// A receiver that sees every change (push, release, end, close).
    pub fn subscribe(&self) -> watch::Receiver<()> {
        self.changed.subscribe()
    }

    /// The offset held: every byte before it has been received.
    pub fn received(&self) -> u64 {
        self.lock().received()
    }

    /// Everything before this offset went to the sink.
    pub fn released(&self) -> u64 {
        self.lock().released
    }

    /// Bytes received and not released yet.
    pub fn unreleased(&self) -> u64 {
        let inner = self.lock();
        inner.received() - inner.released
    }

    /// Bytes received beyond what the decoder and the sink have taken: the read-ahead that
    /// back-pressure limits. (The decoder may be ahead of the sink through a long tag.)
    pub fn ahead(&self) -> u64 {
        let inner = self.lock();
        let taken = if inner.decoded == u64::MAX {
            inner.released
        } else {
            inner.released.max(inner.decoded)
        };
        inner.received().saturating_sub(taken)
    }

    /// How far the decoder has read.
    pub fn decoded(&self) -> u64 {
        let inner = self.lock();
        if inner.decoded == u64::MAX {
            inner.received()
        } else {
            inner.decoded
        }
    }

    /// From now on a reader that waits for bytes counts an underrun.
    pub fn watch_underruns(&self) {
        self.lock().watch_underruns = true;
    }

    /// Underruns so far.
    pub fn underruns(&self) -> u32 {
        self.lock().underruns
    }

    /// Is the session closed?
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Did the server say end of track?
    pub fn is_complete(&self) -> bool {
        self.lock().complete
    }

    /// Appends a chunk that starts at `offset`, which must be the offset held.
    pub fn push(&self, offset: u64, bytes: &[u8]) -> Result<u64, OffsetMismatch> {
        let received = {
            let mut inner = self.lock();
            let held = inner.received();
            if offset != held {
                return Err(OffsetMismatch { held, got: offset });
            }
            inner.data.extend_from_slice(bytes);
            inner.received()
        };
        self.wake();
        Ok(received)
    }

    /// The server sent the empty chunk at the end of the track.
    pub fn finish(&self) {
        self.lock().complete = true;
        self.wake();
    }

    /// Ends the session: the decoder sees the end of its input.
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake();
    }

    /// Takes every byte received and not released yet (the end of a track: its trailing tags).
    pub fn release_all(&self) -> Vec<u8> {
        let to = self.received();
        self.release_to(to).unwrap_or_default()
    }

    /// Takes the bytes `[released, to)` for the sink, or `None` if they have not all arrived.
    pub fn release_to(&self, to: u64) -> Option<Vec<u8>> {
        let out = {
            let mut inner = self.lock();
            if to > inner.received() || to < inner.released {
                return None;
            }
            let from = (inner.released - inner.base) as usize;
            let end = (to - inner.base) as usize;
            let out = inner.data[from..end].to_vec();
            inner.released = to;
            inner.trim();
            out
        };
        self.wake();
        Some(out)
    }

    /// A blocking reader over the buffer from its start, for the decoder thread.
    pub fn reader(self: &Arc<Self>) -> GrowingReader {
        let pos = self.lock().decoded;
        GrowingReader {
            buffer: Arc::clone(self),
            pos,
        }
    }

    /// The decoder gave up: do not keep bytes for it.
    pub fn decoder_done(&self) {
        let mut inner = self.lock();
        inner.decoded = u64::MAX;
        inner.trim();
    }
}

/// Reads the buffer in order, blocking until bytes arrive; end of input when the track is
/// complete and read, or when the session closes.
#[derive(Debug)]
pub struct GrowingReader {
    buffer: Arc<TrackBuffer>,
    pos: u64,
}

impl Read for GrowingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut inner = self.buffer.lock();
        loop {
            if inner.closed {
                return Ok(0);
            }
            let available = inner.received().saturating_sub(self.pos);
            if available > 0 {
                let from = (self.pos - inner.base) as usize;
                let n = (available as usize).min(buf.len()).min(MAX_READ);
                buf[..n].copy_from_slice(&inner.data[from..from + n]);
                self.pos += n as u64;
                inner.decoded = self.pos;
                return Ok(n);
            }
            if inner.complete {
                return Ok(0);
            }
            if inner.watch_underruns && inner.released > inner.start {
                // One line per underrun: the reader waits once until bytes arrive.
                inner.underruns += 1;
                tracing::info!(
                    "underrun at offset {}: the buffer ran dry ({} so far)",
                    self.pos,
                    inner.underruns
                );
                while !inner.closed && !inner.complete && inner.received() <= self.pos {
                    inner = self
                        .buffer
                        .cond
                        .wait(inner)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                continue;
            }
            inner = self
                .buffer
                .cond
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_must_continue_the_stream() {
        let buffer = TrackBuffer::new(0);
        assert_eq!(buffer.push(0, b"abcd"), Ok(4));
        assert_eq!(
            buffer.push(2, b"cd"),
            Err(OffsetMismatch { held: 4, got: 2 })
        );
        assert_eq!(
            buffer.push(9, b"x"),
            Err(OffsetMismatch { held: 4, got: 9 })
        );
        assert_eq!(buffer.push(4, b"ef"), Ok(6));
        assert_eq!(buffer.received(), 6);
        assert_eq!(buffer.unreleased(), 6);
        assert_eq!(buffer.release_to(3).as_deref(), Some(&b"abc"[..]));
        assert_eq!(buffer.release_to(7), None, "not received yet");
        assert_eq!(buffer.release_to(6).as_deref(), Some(&b"def"[..]));
        assert_eq!(buffer.unreleased(), 0);
    }

    #[test]
    fn released_bytes_are_trimmed_without_losing_offsets() {
        let buffer = TrackBuffer::new(0);
        buffer.decoder_done();
        let block: Vec<u8> = (0..TRIM_AT * 2).map(|i| (i % 251) as u8).collect();
        buffer.push(0, &block).unwrap();
        let first = buffer.release_to(TRIM_AT as u64 + 10).unwrap();
        assert_eq!(first, block[..TRIM_AT + 10]);
        let rest = buffer.release_to(block.len() as u64).unwrap();
        assert_eq!(rest, block[TRIM_AT + 10..]);
        assert_eq!(
            buffer.push(block.len() as u64, b"z"),
            Ok(block.len() as u64 + 1)
        );
    }

    #[test]
    fn the_reader_blocks_until_bytes_arrive_and_ends_with_the_track() {
        let buffer = TrackBuffer::new(0);
        let mut reader = buffer.reader();
        let writer = Arc::clone(&buffer);
        let thread = std::thread::spawn(move || {
            writer.push(0, b"hello ").unwrap();
            writer.push(6, b"world").unwrap();
            writer.finish();
        });
        let mut all = Vec::new();
        reader.read_to_end(&mut all).unwrap();
        thread.join().unwrap();
        assert_eq!(all, b"hello world");
    }
}
