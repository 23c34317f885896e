//! A playlist channel's source: tracks of the library played in real time, looping.
//!
//! The schedule is the wall clock's, not the process's: the channel has been playing its loop
//! since the Unix epoch, and a shuffled loop's order is seeded by the channel's name and the
//! loop's number. So every replica with the same library plays the same frame at the same time,
//! a server restarted by its node comes back where the others are, and a render that fails over
//! to a replica finds the audio it was hearing there (and can splice without a gap).
//!
//! Each track's audio (ID3v2 and ID3v1 tags and the encoder's Xing/Info frame left out) is due
//! at `size / duration` bytes per ms from the moment the previous track ended, so VBR is paced
//! by its average and the channel never drifts. Each tick reads the whole frames due since the
//! previous one (a `pread`, from the page cache in practice) and appends them to the channel.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use tracing::{info, warn};

use super::silence::Silence;
use crate::library::{Current, Library, Track};
use crate::live::channel::Channel;
use crate::live::config::Order;
use crate::mpeg::{self, FrameHeader, MAX_FRAME_LEN};

/// The track being played.
#[derive(Debug)]
struct Playing {
    track: Arc<Track>,
    file: File,
    /// Audio range of the file.
    start: u64,
    end: u64,
    /// Next byte to send.
    pos: u64,
    /// When its first byte was due.
    t0: Instant,
    bytes_per_ms: f64,
}

impl Playing {
    /// Moves to the first frame at or after `ms` into the track (the wall-clock schedule).
    fn seek_to(&mut self, ms: u64) -> std::io::Result<()> {
        let target =
            self.start + ((ms as f64 * self.bytes_per_ms) as u64).min(self.end - self.start);
        if target <= self.start {
            return Ok(());
        }
        let len = (MAX_FRAME_LEN * 3).min((self.end - target) as usize);
        let mut buf = vec![0u8; len];
        self.file.read_exact_at(&mut buf, target)?;
        // The first offset where a frame starts and the next one follows.
        let skip = (0..buf.len())
            .find(|&i| mpeg::frame_at(&buf, i).is_some())
            .unwrap_or(buf.len());
        self.pos = target + skip as u64;
        Ok(())
    }

    /// When its last byte is due.
    fn ends_at(&self) -> Instant {
        let ms = (self.end - self.start) as f64 / self.bytes_per_ms;
        self.t0 + Duration::from_secs_f64(ms / 1000.0)
    }
}

/// The source of a playlist channel.
#[derive(Debug)]
pub struct Playlist {
    entries: Option<Vec<String>>,
    order: Order,
    queue: Vec<Arc<Track>>,
    next: usize,
    playing: Option<Playing>,
    /// When the next track is due (the end of the previous one).
    clock: Instant,
    silence: Option<Silence>,
    warned: bool,
    /// The loop being played, counted from the Unix epoch (seeds a shuffled order).
    loop_index: u64,
    /// Joined the wall-clock schedule yet?
    scheduled: bool,
    /// Audio produced at once on joining the schedule, from before the start: a server restarted
    /// after a crash holds the moments just before it, so a render failing over to it can join
    /// its audio to what the dead server sent.
    history: Duration,
}

impl Playlist {
    /// A playlist of `entries` (track ids or exact titles; `None`: the whole library) that on
    /// start produces `history` of the schedule's audio before now.
    pub fn new(entries: Option<Vec<String>>, order: Order, history: Duration) -> Self {
        Playlist {
            entries,
            order,
            queue: Vec::new(),
            next: 0,
            playing: None,
            clock: Instant::now(),
            silence: None,
            warned: false,
            loop_index: 0,
            scheduled: false,
            history,
        }
    }

    /// The tracks of one loop, from the current library.
    fn resolve(&mut self, library: &Library, channel: &str) -> Vec<Arc<Track>> {
        let mut tracks = match &self.entries {
            None => library.tracks().to_vec(),
            Some(entries) => entries
                .iter()
                .filter_map(|e| {
                    let found = library.get(e).cloned().or_else(|| {
                        library
                            .tracks()
                            .iter()
                            .find(|t| t.info.title == *e)
                            .cloned()
                    });
                    if found.is_none() && !self.warned {
                        warn!("{channel}: playlist entry '{e}' matches no track; skipped");
                    }
                    found
                })
                .collect(),
        };
        self.warned = true;
        if self.order == Order::Shuffle {
            // The same order on every replica: seeded by the channel and the loop's number.
            let seed =
                fnv1a(channel.as_bytes()) ^ self.loop_index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            tracks.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        }
        tracks
    }

    /// Joins the wall clock's schedule: picks the loop, the track and the offset in it that the
    /// channel is at now if it has played since the Unix epoch; `None` with nothing to play.
    fn join_schedule(
        &mut self,
        library: &Current,
        channel: &Channel,
        now: Instant,
    ) -> Option<Playing> {
        let library = library.get();
        // A loop's length does not depend on its order.
        self.loop_index = 0;
        let tracks = self.resolve(&library, channel.name());
        let loop_ms: u64 = tracks.iter().map(|t| t.info.duration_ms.max(1)).sum();
        if loop_ms == 0 {
            return None;
        }
        // Start `history` back, so the first tick produces that much at once.
        let back = self.history.as_millis() as u64;
        let epoch_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
            .saturating_sub(back);
        let now = now.checked_sub(self.history).unwrap_or(now);
        self.loop_index = epoch_ms / loop_ms;
        let mut within = epoch_ms % loop_ms;
        self.queue = self.resolve(&library, channel.name());
        self.next = 0;
        while self.next < self.queue.len() {
            let track = Arc::clone(&self.queue[self.next]);
            self.next += 1;
            let duration = track.info.duration_ms.max(1);
            if within >= duration {
                within -= duration;
                continue;
            }
            let t0 = now
                .checked_sub(Duration::from_millis(within))
                .unwrap_or(now);
            match open(&track, t0).and_then(|mut p| p.seek_to(within).map(|()| p)) {
                Ok(p) => return Some(p),
                Err(e) => {
                    warn!(
                        "{}: track {} ({}) cannot be played: {e}",
                        channel.name(),
                        track.info.id,
                        track.info.file
                    );
                    return None;
                }
            }
        }
        None
    }

    /// Opens the next track that opens, due at `self.clock`; `None` if none does.
    fn start_next(&mut self, library: &Current, channel: &Channel) -> Option<Playing> {
        for _ in 0..2 {
            if self.next >= self.queue.len() {
                self.loop_index += 1;
                self.queue = self.resolve(&library.get(), channel.name());
                self.next = 0;
            }
            while self.next < self.queue.len() {
                let track = Arc::clone(&self.queue[self.next]);
                self.next += 1;
                match open(&track, self.clock) {
                    Ok(playing) => return Some(playing),
                    Err(e) => warn!(
                        "{}: track {} ({}) cannot be played: {e}",
                        channel.name(),
                        track.info.id,
                        track.info.file
                    ),
                }
            }
        }
        None
    }

    /// Appends the audio due until `now` to the channel.
    pub fn produce(&mut self, library: &Current, channel: &Channel, now: Instant) {
        loop {
            if self.playing.is_none() {
                let next = if self.scheduled {
                    self.start_next(library, channel)
                } else {
                    self.scheduled = true;
                    self.join_schedule(library, channel, now)
                        .or_else(|| self.start_next(library, channel))
                };
                match next {
                    Some(p) => {
                        self.silence = None;
                        let title = title_of(&p.track);
                        info!("{}: now '{title}'", channel.name());
                        channel.now_playing(&title, p.track.info.bitrate_kbps, &p.track.info.id);
                        self.playing = Some(p);
                    }
                    None => {
                        self.play_silence(channel, now);
                        return;
                    }
                }
            }
            let Some(p) = self.playing.as_mut() else {
                return;
            };
            let elapsed_ms = now.saturating_duration_since(p.t0).as_secs_f64() * 1000.0;
            let due = ((elapsed_ms * p.bytes_per_ms) as u64).min(p.end - p.start);
            while p.pos < p.end && p.pos - p.start < due {
                match read_frames(p, p.start + due) {
                    Ok(Some(audio)) => channel.push_audio(audio),
                    Ok(None) => {}
                    Err(e) => {
                        warn!(
                            "{}: reading track {} ({}): {e}; skipping the rest",
                            channel.name(),
                            p.track.info.id,
                            p.track.info.file
                        );
                        p.end = p.pos;
                    }
                }
            }
            if p.pos < p.end {
                return;
            }
            // The track is over: the next one is due when its last byte was.
            self.clock = p.ends_at();
            self.playing = None;
            if self.clock > now {
                return;
            }
        }
    }

    fn play_silence(&mut self, channel: &Channel, now: Instant) {
        let silence = self.silence.get_or_insert_with(|| {
            info!("{}: nothing to play; silence", channel.name());
            let mut s = Silence::new(mpeg::DEFAULT_HEADER);
            s.restart(now);
            s
        });
        channel.go_silent();
        channel.set_bitrate(silence.bitrate_kbps());
        if let Some(audio) = silence.due(now) {
            channel.push_audio(audio);
        }
        self.clock = now;
    }
}

/// FNV-1a: a hash that is the same in every build (the shuffle's seed must be).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `Artist - Title`, or what there is of it.
pub fn title_of(track: &Track) -> String {
    let i = &track.info;
    match (i.artist.is_empty(), i.title.is_empty()) {
        (false, false) => format!("{} - {}", i.artist, i.title),
        (true, false) => i.title.clone(),
        (false, true) => i.artist.clone(),
        (true, true) => i.file.clone(),
    }
}

fn open(track: &Arc<Track>, t0: Instant) -> std::io::Result<Playing> {
    let file = track
        .open()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let size = file.metadata()?.len();
    let (mut start, end) = mpeg::audio_range(&file, size)?;
    // The encoder's Xing/Info frame carries no audio.
    let mut first = vec![0u8; MAX_FRAME_LEN.min((end - start) as usize)];
    file.read_exact_at(&mut first, start)?;
    if let Some(h) = FrameHeader::parse(&first)
        && mpeg::is_info_frame(&first)
    {
        start += h.len as u64;
    }
    let audio = end.saturating_sub(start).max(1);
    let bytes_per_ms = if track.info.duration_ms > 0 {
        audio as f64 / track.info.duration_ms as f64
    } else {
        f64::from(track.info.bitrate_kbps.max(8)) / 8.0
    };
    Ok(Playing {
        track: Arc::clone(track),
        file,
        start,
        end: start.max(end),
        pos: start,
        t0,
        bytes_per_ms,
    })
}

/// Reads whole frames from `p.pos` until at least `until` (or the end of the audio); advances
/// `p.pos` past them. Junk between frames is skipped (`Ok(None)` when only junk was read).
fn read_frames(p: &mut Playing, until: u64) -> std::io::Result<Option<Bytes>> {
    let want =
        (until.saturating_sub(p.pos) as usize + MAX_FRAME_LEN + 4).min((p.end - p.pos) as usize);
    let mut buf = BytesMut::zeroed(want);
    p.file.read_exact_at(&mut buf, p.pos)?;
    let at_end = p.pos + want as u64 >= p.end;
    let need = (until - p.pos.min(until)) as usize;
    let mut off = 0;
    while off < need {
        match FrameHeader::parse(&buf[off..]) {
            Some(h) if off + h.len <= buf.len() => off += h.len,
            // A frame cut by the end of the file: dropped.
            Some(_) if at_end => {
                buf.truncate(off);
                p.pos = p.end;
                return Ok((off > 0).then(|| buf.freeze()));
            }
            Some(_) => break,
            None if off > 0 => break,
            None => {
                // Junk: skip to the next frame.
                let skip = (1..buf.len())
                    .find(|&i| mpeg::frame_at(&buf, i).is_some())
                    .unwrap_or(buf.len());
                p.pos += skip as u64;
                return Ok(None);
            }
        }
    }
    buf.truncate(off);
    p.pos += off as u64;
    Ok((off > 0).then(|| buf.freeze()))
}

/// The channel's clock: every tick, the audio due, then a write to every listener.
pub async fn run(
    channel: Arc<Channel>,
    mut playlist: Playlist,
    library: Arc<Current>,
    tick: Duration,
) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    playlist.clock = Instant::now();
    loop {
        interval.tick().await;
        playlist.produce(&library, &channel, Instant::now());
        channel.distribute().await;
        channel.log_listeners();
    }
}
