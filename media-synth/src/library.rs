//! The demo library: which songs it holds, and making the missing ones as tagged MP3 files.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::mp3::{self, Encoding, Tags};
use crate::song::{Key, Spec, Style, render};

/// One track of the library.
#[derive(Debug, Clone, Copy)]
pub struct Track {
    /// Path under the library folder.
    pub file: &'static str,
    pub title: &'static str,
    pub artist: &'static str,
    pub album: &'static str,
    pub year: u16,
    /// Track number and the album's track count.
    pub number: (u32, u32),
    pub seconds: f64,
    pub style: Style,
    pub seed: u64,
    pub key: &'static str,
    pub encoding: Encoding,
}

const fn track(
    file: &'static str,
    (title, artist, album, year): (&'static str, &'static str, &'static str, u16),
    number: (u32, u32),
    (seconds, style, seed, key): (f64, Style, u64, &'static str),
    encoding: Encoding,
) -> Track {
    Track {
        file,
        title,
        artist,
        album,
        year,
        number,
        seconds,
        style,
        seed,
        key,
        encoding,
    }
}

const CLOUD_SAVE: Track = track(
    "kilobyte-choir/eight-bit-weather/01-cloud-save.mp3",
    ("Cloud Save", "Kilobyte Choir", "Eight Bit Weather", 2022),
    (1, 2),
    (12.0, Style::Chip, 101, "E"),
    Encoding::Cbr(128),
);

/// Eight tracks by four artists, 12 s to 4 min, CBR 128, 192 and 320 kbit/s and VBR.
pub const FULL: &[Track] = &[
    CLOUD_SAVE,
    track(
        "kilobyte-choir/eight-bit-weather/02-pixel-drizzle.mp3",
        ("Pixel Drizzle", "Kilobyte Choir", "Eight Bit Weather", 2022),
        (2, 2),
        (25.0, Style::Chip, 102, "Am"),
        Encoding::Cbr(320),
    ),
    track(
        "floor-theory/basement-hours/01-low-ceiling.mp3",
        ("Low Ceiling", "Floor Theory", "Basement Hours", 2025),
        (1, 2),
        (40.0, Style::House, 201, "Fm"),
        Encoding::Cbr(192),
    ),
    track(
        "floor-theory/basement-hours/02-basement-hours.mp3",
        ("Basement Hours", "Floor Theory", "Basement Hours", 2025),
        (2, 2),
        (120.0, Style::House, 202, "Gm"),
        Encoding::Cbr(320),
    ),
    track(
        "vega-lines/night-transit/01-night-transit.mp3",
        ("Night Transit", "Vega Lines", "Night Transit", 2024),
        (1, 2),
        (60.0, Style::Pop, 301, "D"),
        Encoding::Cbr(128),
    ),
    track(
        "vega-lines/night-transit/02-glass-avenue.mp3",
        ("Glass Avenue", "Vega Lines", "Night Transit", 2024),
        (2, 2),
        (180.0, Style::Pop, 302, "Bb"),
        Encoding::Cbr(192),
    ),
    track(
        "slow-meridian/tidal-rooms/01-harbour-lights.mp3",
        ("Harbour Lights", "Slow Meridian", "Tidal Rooms", 2021),
        (1, 2),
        (90.0, Style::Ambient, 401, "Eb"),
        Encoding::Vbr(2),
    ),
    track(
        "slow-meridian/tidal-rooms/02-the-long-swell.mp3",
        ("The Long Swell", "Slow Meridian", "Tidal Rooms", 2021),
        (2, 2),
        (240.0, Style::Ambient, 402, "C#m"),
        Encoding::Vbr(0),
    ),
];

/// Three short tracks for tests (CBR 128, CBR 320, VBR); the first is the full library's, same
/// file and id.
pub const QUICK: &[Track] = &[
    CLOUD_SAVE,
    track(
        "test-signals/quick-set/01-quick-pop.mp3",
        ("Quick Pop", "Test Signals", "Quick Set", 2025),
        (1, 2),
        (15.0, Style::Pop, 901, "G"),
        Encoding::Cbr(320),
    ),
    track(
        "test-signals/quick-set/02-quick-drift.mp3",
        ("Quick Drift", "Test Signals", "Quick Set", 2025),
        (2, 2),
        (10.0, Style::Ambient, 902, "Dm"),
        Encoding::Vbr(2),
    ),
];

impl Track {
    /// The whole file: the song synthesised, encoded and tagged.
    pub fn make(&self) -> anyhow::Result<Vec<u8>> {
        let key: Key = self
            .key
            .parse()
            .map_err(|e: String| anyhow::anyhow!("track {}: {e}", self.file))?;
        let spec = Spec::new(self.seed, self.seconds, self.style, None, Some(key));
        let tags = Tags {
            title: Some(self.title.to_owned()),
            artist: Some(self.artist.to_owned()),
            album: Some(self.album.to_owned()),
            year: Some(self.year),
            track: Some(self.number),
        };
        mp3::encode_le_bytes(&render(&spec), self.encoding, &tags)
            .with_context(|| format!("encoding {}", self.file))
    }
}

/// What [`make`] did.
#[derive(Debug, Default)]
pub struct Report {
    /// Tracks written, with their paths.
    pub made: Vec<PathBuf>,
    /// Tracks that were already there.
    pub kept: usize,
}

/// Writes each of `tracks` missing under `dir` (every one with `force`), on as many threads as
/// there are cores. Each file is written under a hidden temporary name in its folder and renamed,
/// so no reader sees half a track (the MediaServers skip dot files). `progress` hears of each
/// track made, with its path and the seconds it took.
pub fn make(
    dir: &Path,
    tracks: &[Track],
    force: bool,
    progress: impl Fn(&Track, &Path, f64) + Sync,
) -> anyhow::Result<Report> {
    let todo: Vec<&Track> = tracks
        .iter()
        .filter(|t| force || !dir.join(t.file).exists())
        .collect();
    let kept = tracks.len() - todo.len();
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(todo.len().max(1));
    let results: Vec<anyhow::Result<Vec<(usize, PathBuf)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut made = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(track) = todo.get(i) else {
                            return Ok(made);
                        };
                        let started = Instant::now();
                        let out = write_track(dir, track)?;
                        progress(track, &out, started.elapsed().as_secs_f64());
                        made.push((i, out));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker panicked")))
            })
            .collect()
    });
    let mut made = Vec::new();
    for result in results {
        made.extend(result?);
    }
    made.sort();
    Ok(Report {
        made: made.into_iter().map(|(_, path)| path).collect(),
        kept,
    })
}

fn write_track(dir: &Path, track: &Track) -> anyhow::Result<PathBuf> {
    let out = dir.join(track.file);
    let (Some(folder), Some(name)) = (out.parent(), out.file_name()) else {
        bail!("track path {} has no folder", out.display());
    };
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let bytes = track.make()?;
    let part = folder.join(format!(".{}.part", name.to_string_lossy()));
    std::fs::write(&part, &bytes).with_context(|| format!("cannot write {}", part.display()))?;
    if let Err(e) = std::fs::rename(&part, &out) {
        let _ = std::fs::remove_file(&part);
        return Err(e)
            .with_context(|| format!("cannot rename {} to {}", part.display(), out.display()));
    }
    Ok(out)
}
