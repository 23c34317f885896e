//! The playback thread of one track: decodes the read-ahead buffer with symphonia to learn each
//! frame's duration, and releases the received bytes to the sink as playback time reaches them
//! (divided by `--speed`). It exists only while a track plays.
//!
//! The sink gets the original bytes, not PCM: a `file:` sink is the source byte for byte, and
//! an `exec:` player or a `/listen` client decodes it itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use grid_proto::media::TrackInfo;
use symphonia::core::codecs::DecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::{MediaSourceStream, ReadOnlySource};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::buffer::TrackBuffer;
use crate::sink::Sink;

/// Running this late (wall time) means playback stalled (an underrun): start the clock again
/// rather than rushing out what was missed.
const STALL: Duration = Duration::from_millis(100);
/// Release size when the stream cannot be decoded and bytes are paced by the bitrate instead.
const BLIND_PIECE: u64 = 4096;
/// Bytes per millisecond when a track says neither its bitrate nor its duration (16 kB/s).
const FALLBACK_BYTES_PER_MS: u64 = 16;

/// The track's bytes per millisecond of audio (at least 1): from its bitrate, else from its size
/// over its duration, else 16 kB/s.
pub fn bytes_per_ms(track: &TrackInfo) -> u64 {
    let rate = if track.bitrate_kbps > 0 {
        u64::from(track.bitrate_kbps) / 8
    } else {
        track
            .size
            .checked_div(track.duration_ms)
            .unwrap_or(FALLBACK_BYTES_PER_MS)
    };
    rate.max(1)
}

/// What the playback thread tells the player.
#[derive(Debug, Clone, Copy)]
pub enum PacerEvent {
    /// Every byte of the track went to the sink and its time has passed.
    Finished {
        /// Bytes played.
        bytes: u64,
        /// Duration played.
        position_ms: u64,
    },
}

#[derive(Debug, Default)]
struct Flags {
    paused: bool,
    stopped: bool,
}

/// Pause, resume and stop of the playback thread, and its position.
#[derive(Debug, Default)]
pub struct Control {
    flags: Mutex<Flags>,
    cond: Condvar,
    position_ms: AtomicU64,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, Flags> {
        self.flags.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops releasing until [`Control::resume`].
    pub fn pause(&self) {
        self.lock().paused = true;
        self.cond.notify_all();
    }

    /// Releases again.
    pub fn resume(&self) {
        self.lock().paused = false;
        self.cond.notify_all();
    }

    /// Ends the thread without releasing anything more.
    pub fn stop(&self) {
        self.lock().stopped = true;
        self.cond.notify_all();
    }

    fn stopped(&self) -> bool {
        self.lock().stopped
    }

    /// Duration of what went to the sink.
    pub fn position_ms(&self) -> u64 {
        self.position_ms.load(Ordering::Relaxed)
    }

    /// Waits until playback time `at_us` is due on `clock`, through pauses; false once stopped.
    fn wait_until(&self, clock: &mut Clock, at_us: u64) -> bool {
        let mut flags = self.lock();
        loop {
            if flags.stopped {
                return false;
            }
            if flags.paused {
                flags = self
                    .cond
                    .wait(flags)
                    .unwrap_or_else(PoisonError::into_inner);
                clock.restart(at_us);
                continue;
            }
            let Some(due) = clock.due(at_us) else {
                return true;
            };
            let now = Instant::now();
            if now >= due {
                if now - due > STALL {
                    clock.restart(at_us);
                }
                return true;
            }
            flags = self
                .cond
                .wait_timeout(flags, due - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Maps playback time to wall time at `speed`.
#[derive(Debug)]
struct Clock {
    speed: f64,
    origin: Instant,
    origin_us: u64,
}

impl Clock {
    fn new(speed: f64) -> Self {
        Self {
            speed,
            origin: Instant::now(),
            origin_us: 0,
        }
    }

    fn restart(&mut self, at_us: u64) {
        self.origin = Instant::now();
        self.origin_us = at_us;
    }

    /// When `at_us` is due; `None` at speed 0 (no pacing).
    fn due(&self, at_us: u64) -> Option<Instant> {
        if self.speed <= 0.0 {
            return None;
        }
        let us = at_us.saturating_sub(self.origin_us) as f64 / self.speed;
        Some(self.origin + Duration::from_micros(us as u64))
    }
}

/// One track's playback thread.
#[derive(Debug)]
pub struct Pacer {
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

/// What the thread needs.
pub struct PacerJob {
    /// The track.
    pub track: TrackInfo,
    /// Its read-ahead buffer.
    pub buffer: Arc<TrackBuffer>,
    /// Where released bytes go.
    pub sink: Arc<Sink>,
    /// `--speed`.
    pub speed: f64,
    /// Tag of the events.
    pub session: u64,
    /// The player's inbox.
    pub events: mpsc::UnboundedSender<(u64, PacerEvent)>,
}

impl Pacer {
    /// Starts playing `job.track`.
    pub fn start(job: PacerJob) -> std::io::Result<Self> {
        let control = Arc::new(Control::default());
        let ctl = Arc::clone(&control);
        let thread = std::thread::Builder::new()
            .name("pacer".into())
            .spawn(move || play(&job, &ctl))?;
        Ok(Self {
            control,
            thread: Some(thread),
        })
    }

    /// Pause, resume, stop and position.
    pub fn control(&self) -> &Arc<Control> {
        &self.control
    }

    /// The thread, to join once it was stopped (and its buffer closed) - off the runtime.
    pub fn take_thread(&mut self) -> Option<JoinHandle<()>> {
        self.thread.take()
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        // The buffer's owner closes it too, which frees a reader waiting for bytes; the
        // thread then ends on its own, so it is not joined here (that would block the runtime).
        self.control.stop();
        drop(self.thread.take());
    }
}

fn release(job: &PacerJob, to: u64) {
    if let Some(bytes) = job.buffer.release_to(to) {
        job.sink.write(&bytes);
    }
}

fn play(job: &PacerJob, control: &Control) {
    job.sink.track_starts(bytes_per_ms(&job.track));
    if job.speed > 0.0 {
        job.buffer.watch_underruns();
    }
    let mut clock = Clock::new(job.speed);
    let played_us = match decode(job, control, &mut clock) {
        Ok(Decoded::End(us)) => us,
        Ok(Decoded::Stopped) => return,
        Ok(Decoded::Broken(us)) => {
            // The rest of the track (what was received) still goes to the sink, paced by the
            // bitrate from where the decoder gave up, and the track ends as usual.
            job.buffer.decoder_done();
            match blind(job, control, &mut clock, us) {
                Some(us) => us,
                None => return,
            }
        }
        Err(e) => {
            // Stopped or replaced while probing: the probe only saw its input end.
            if control.stopped() || job.buffer.is_closed() {
                return;
            }
            // Not MP3 (or not what symphonia reads): pace by the bitrate so the sink still
            // gets every byte in about real time.
            warn!("cannot decode {}: {e}; pacing by its bitrate", job.track.id);
            job.buffer.decoder_done();
            match blind(job, control, &mut clock, 0) {
                Some(us) => us,
                None => return,
            }
        }
    };
    if !job.buffer.is_complete() || control.stopped() {
        return;
    }
    // The last frame plays out before the track counts as finished.
    if !control.wait_until(&mut clock, played_us) {
        return;
    }
    // Whatever follows the last frame (an ID3v1 tag) belongs to the file too.
    let tail = job.buffer.release_all();
    job.sink.write(&tail);
    let position_ms = played_us / 1000;
    control.position_ms.store(position_ms, Ordering::Relaxed);
    let _ = job.events.send((
        job.session,
        PacerEvent::Finished {
            bytes: job.buffer.released(),
            position_ms,
        },
    ));
}

/// How decoding ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoded {
    /// At the end of the input (complete, or closed), after this many microseconds played.
    End(u64),
    /// Stopped.
    Stopped,
    /// The stream cannot be read on (damaged) after this many microseconds played.
    Broken(u64),
}

/// Decodes and releases frame by frame. `Err` if the stream cannot be decoded at all.
fn decode(job: &PacerJob, control: &Control, clock: &mut Clock) -> Result<Decoded, SymError> {
    let source = ReadOnlySource::new(job.buffer.reader());
    let mss = MediaSourceStream::new(Box::new(source), Default::default());
    let mut hint = Hint::new();
    hint.mime_type(&job.track.content_type);
    if job.track.file.to_ascii_lowercase().ends_with(".mp3") {
        hint.with_extension("mp3");
    }
    let probed = symphonia::default::get_probe().format(
        &hint,
        mss,
        &FormatOptions::default(),
        &MetadataOptions::default(),
    )?;
    let mut format = probed.format;
    let track = format
        .default_track()
        .ok_or(SymError::Unsupported("no audio track"))?;
    let track_id = track.id;
    let rate = u64::from(track.codec_params.sample_rate.unwrap_or(44_100)).max(1);
    let mut decoder =
        symphonia::default::get_codecs().make(&track.codec_params, &DecoderOptions::default())?;
    let mut played_us = 0u64;
    let mut bad_frames = 0u32;
    let broken = loop {
        let packet = match format.next_packet() {
            Ok(p) => p,
            Err(SymError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break None;
            }
            Err(e) => {
                if control.stopped() || job.buffer.is_closed() {
                    return Ok(Decoded::Stopped);
                }
                break Some(e);
            }
        };
        if packet.track_id() != track_id {
            continue;
        }
        let frames = match decoder.decode(&packet) {
            Ok(audio) => audio.frames() as u64,
            Err(SymError::DecodeError(e)) => {
                bad_frames += 1;
                if bad_frames == 1 {
                    warn!("{}: skipping an undecodable frame ({e})", job.track.id);
                }
                packet.dur
            }
            Err(e) => break Some(e),
        };
        if !control.wait_until(clock, played_us) {
            return Ok(Decoded::Stopped);
        }
        release(job, job.buffer.decoded());
        played_us = played_us.saturating_add(frames.saturating_mul(1_000_000) / rate);
        control
            .position_ms
            .store(played_us / 1000, Ordering::Relaxed);
    };
    if control.stopped() {
        return Ok(Decoded::Stopped);
    }
    if bad_frames > 1 {
        info!("{}: {bad_frames} undecodable frames skipped", job.track.id);
    }
    Ok(match broken {
        None => Decoded::End(played_us),
        Some(e) => {
            // A damaged stream (or one that changes its format midway): one line for the
            // change to pacing by the bitrate.
            warn!(
                "{}: cannot decode on after {} ms ({e}); pacing the rest by its bitrate",
                job.track.id,
                played_us / 1000
            );
            Decoded::Broken(played_us)
        }
    })
}

/// Releases fixed pieces at the track's bitrate, for a stream the decoder cannot read (from the
/// start, or from where it gave up at `start_us` of playback): the time played when the track
/// is complete and all released, `None` when stopped.
fn blind(job: &PacerJob, control: &Control, clock: &mut Clock, start_us: u64) -> Option<u64> {
    let bytes_per_ms = bytes_per_ms(&job.track);
    let from = job.buffer.released();
    let at =
        |offset: u64| start_us.saturating_add(offset.saturating_sub(from) * 1000 / bytes_per_ms);
    loop {
        let released = job.buffer.released();
        let received = job.buffer.received();
        let at_us = at(released);
        if released < received {
            if !control.wait_until(clock, at_us) {
                return None;
            }
            let to = received.min(released + BLIND_PIECE);
            release(job, to);
            control.position_ms.store(at(to) / 1000, Ordering::Relaxed);
            continue;
        }
        if job.buffer.is_complete() {
            return Some(at_us);
        }
        if job.buffer.is_closed() || control.stopped() {
            return None;
        }
        // Rare path (not MP3): a short poll is simpler than another wake-up channel.
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(bitrate_kbps: u32, size: u64, duration_ms: u64) -> TrackInfo {
        TrackInfo {
            id: "0123456789abcdef".into(),
            title: String::new(),
            artist: String::new(),
            album: String::new(),
            duration_ms,
            bitrate_kbps,
            vbr: false,
            size,
            content_type: "audio/mpeg".into(),
            file: String::new(),
        }
    }

    #[test]
    fn after_the_decoder_gives_up_the_rest_is_paced_blind_to_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let sink = Arc::new(Sink::parse(&format!("file:{}", out.display())).unwrap());
        let buffer = TrackBuffer::new(0);
        let data: Vec<u8> = (0..40_000u32).map(|i| (i % 253) as u8).collect();
        buffer.push(0, &data).unwrap();
        // The decoder played 1 s and released 10 000 bytes before it gave up.
        sink.write(&buffer.release_to(10_000).unwrap());
        buffer.decoder_done();
        let (events, _rx) = mpsc::unbounded_channel();
        let job = PacerJob {
            track: track(128, data.len() as u64, 2500),
            buffer: Arc::clone(&buffer),
            sink,
            speed: 0.0,
            session: 1,
            events,
        };
        let control = Control::default();
        let mut clock = Clock::new(0.0);
        // The rest arrives while it paces, then the server says end of track.
        let feeder = {
            let buffer = Arc::clone(&buffer);
            let rest = data.clone();
            std::thread::spawn(move || {
                buffer.push(40_000, &rest[..8_000]).unwrap();
                buffer.finish();
            })
        };
        let played = blind(&job, &control, &mut clock, 1_000_000);
        feeder.join().unwrap();
        // 1 s, then 38 000 bytes at 16 bytes/ms.
        assert_eq!(played, Some(1_000_000 + 2_375_000));
        assert_eq!(buffer.released(), 48_000);
        let written = std::fs::read(&out).unwrap();
        assert_eq!(&written[..40_000], &data[..]);
        assert_eq!(&written[40_000..], &data[..8_000]);
        assert_eq!(control.position_ms(), 1000 + 38_000 / 16);
    }

    #[test]
    fn bytes_per_ms_from_the_bitrate_else_size_over_duration_else_16_kb_per_s() {
        assert_eq!(bytes_per_ms(&track(128, 1, 1)), 16);
        assert_eq!(bytes_per_ms(&track(0, 3_200_000, 100_000)), 32);
        assert_eq!(bytes_per_ms(&track(0, 1_000, 0)), 16);
        assert_eq!(bytes_per_ms(&track(0, 0, 0)), 16);
        // Never 0 (a divisor).
        assert_eq!(bytes_per_ms(&track(4, 0, 0)), 1);
        assert_eq!(bytes_per_ms(&track(0, 10, 100_000)), 1);
    }
}
