//! The composer: from a seed, a key, a tempo and a style, a song in four-bar phrases (intro,
//! verses, choruses, a break, an outro) with drums, a bass line, chord pads and a melody built from
//! a repeated motif, rendered into the mix.

use std::fmt;
use std::str::FromStr;

use crate::instruments::{Sound, Voice, hat, kick, snare};
use crate::mix::{Mix, RATE};
use crate::rng::Rng;
use crate::wave::{Adsr, Shape, Tables, midi_hz};

/// A musical style: which instruments play and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Style {
    /// Backbeat drums, a saw pad, a bouncing bass and a singing lead.
    Pop,
    /// Four-on-the-floor, off-beat bass, open hats.
    House,
    /// No drums to speak of, long pads, a slow echoing melody.
    Ambient,
    /// Square-wave leads and 16th-note arpeggios, like an old game console.
    Chip,
}

/// A key: tonic pitch class (C = 0) and mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// Pitch class of the tonic, 0..12.
    pub tonic: u8,
    /// Natural minor rather than major.
    pub minor: bool,
}

const NOTE_NAMES: [&str; 12] = [
    "C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B",
];

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = if self.minor { "m" } else { "" };
        write!(f, "{}{m}", NOTE_NAMES[usize::from(self.tonic % 12)])
    }
}

impl FromStr for Key {
    type Err = String;

    /// `A`, `Am`, `F#m`, `Bb`, `c# minor`, `Eb major`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a key (examples: C, Am, F#m, Bb, \"D minor\")");
        let t = s.trim();
        let mut chars = t.chars();
        let letter = chars.next().ok_or_else(bad)?;
        let base: i32 = match letter.to_ascii_uppercase() {
            'C' => 0,
            'D' => 2,
            'E' => 4,
            'F' => 5,
            'G' => 7,
            'A' => 9,
            'B' => 11,
            _ => return Err(bad()),
        };
        let mut rest = chars.as_str();
        let mut pc = base;
        if let Some(r) = rest.strip_prefix('#') {
            pc += 1;
            rest = r;
        } else if let Some(r) = rest.strip_prefix('b') {
            pc -= 1;
            rest = r;
        }
        let minor = match rest.trim().to_ascii_lowercase().as_str() {
            "" | "maj" | "major" => false,
            "m" | "min" | "minor" => true,
            _ => return Err(bad()),
        };
        Ok(Self {
            tonic: pc.rem_euclid(12) as u8,
            minor,
        })
    }
}

/// Everything that decides a song; the same spec always renders the same bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Seed of every random choice.
    pub seed: u64,
    /// Length in frames.
    pub frames: usize,
    /// Beats per minute.
    pub tempo: f32,
    /// Key.
    pub key: Key,
    /// Style.
    pub style: Style,
}

impl Spec {
    /// A spec with tempo and key chosen from the seed where not given.
    pub fn new(
        seed: u64,
        seconds: f64,
        style: Style,
        tempo: Option<f32>,
        key: Option<Key>,
    ) -> Self {
        let mut rng = Rng::new(seed).fork(0);
        let (lo, hi) = match style {
            Style::Pop => (92.0, 124.0),
            Style::House => (118.0, 128.0),
            Style::Ambient => (64.0, 84.0),
            Style::Chip => (128.0, 160.0),
        };
        let drawn_tempo = lo + (hi - lo) * rng.unit();
        let drawn_key = Key {
            tonic: rng.below(12) as u8,
            minor: rng.chance(0.5),
        };
        Self {
            seed,
            frames: (seconds * f64::from(RATE)).round() as usize,
            tempo: tempo.unwrap_or(drawn_tempo.round()),
            key: key.unwrap_or(drawn_key),
            style,
        }
    }
}

const MAJOR: [i32; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR: [i32; 7] = [0, 2, 3, 5, 7, 8, 10];

/// Four-chord progressions, as scale degrees (0 = tonic).
const MAJOR_PROGRESSIONS: [[i32; 4]; 4] = [[0, 4, 5, 3], [5, 3, 0, 4], [0, 5, 3, 4], [0, 3, 1, 4]];
const MINOR_PROGRESSIONS: [[i32; 4]; 4] = [[0, 5, 2, 6], [0, 6, 5, 6], [0, 5, 3, 4], [0, 3, 6, 2]];

/// The part of the song a bar belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Intro,
    Verse,
    Chorus,
    Break,
    Outro,
}

/// The section of phrase `p` (four bars) of `phrases`.
fn section(p: usize, phrases: usize) -> Section {
    if phrases > 2 && p == 0 {
        return Section::Intro;
    }
    if phrases > 3 && p == phrases - 1 {
        return Section::Outro;
    }
    if phrases <= 5 {
        return if p % 2 == 1 {
            Section::Chorus
        } else {
            Section::Verse
        };
    }
    const CYCLE: [Section; 5] = [
        Section::Verse,
        Section::Verse,
        Section::Chorus,
        Section::Chorus,
        Section::Break,
    ];
    CYCLE[(p - 1) % CYCLE.len()]
}

/// One note of the melody: start step within the motif, length in steps, scale degree relative to
/// the chord's root (so the motif follows the chords).
#[derive(Debug, Clone, Copy)]
struct MotifNote {
    step: usize,
    len: usize,
    degree: i32,
}

/// Steps (16th notes) per bar, bars per motif.
const STEPS: usize = 16;
const MOTIF_BARS: usize = 2;

/// A two-bar motif: onsets likelier on the beat, a stepwise walk that lands on chord tones on
/// strong beats.
fn motif(rng: &mut Rng, density: f32, low: bool) -> Vec<MotifNote> {
    let total = STEPS * MOTIF_BARS;
    let mut onsets: Vec<usize> = (0..total)
        .filter(|s| {
            let p = match s % 4 {
                0 => 0.75,
                2 => 0.45,
                _ => 0.18,
            };
            rng.chance(p * density)
        })
        .collect();
    if onsets.first() != Some(&0) {
        onsets.insert(0, 0);
    }
    let mut degree: i32 = if low { 2 } else { 7 + *rng.pick(&[0, 2, 4]) };
    let (lowest, highest) = if low { (0, 7) } else { (4, 13) };
    let mut notes = Vec::new();
    for (i, &step) in onsets.iter().enumerate() {
        let next = onsets.get(i + 1).copied().unwrap_or(total);
        let len = (next - step).min(8);
        let leap = *rng.pick(&[-2, -1, -1, 0, 1, 1, 2, 3]);
        degree = (degree + leap).clamp(lowest, highest);
        if step % 8 == 0 {
            // Snap to the nearest chord tone (root, third, fifth) on the strong beats.
            let r = degree.rem_euclid(7);
            degree += match r {
                1 | 3 | 5 => -1,
                6 => 1,
                _ => 0,
            };
        }
        notes.push(MotifNote { step, len, degree });
    }
    notes
}

/// The MIDI note of scale `degree` above the tonic at MIDI `base`.
fn degree_note(base: i32, scale: &[i32; 7], degree: i32) -> i32 {
    base + 12 * degree.div_euclid(7) + scale[degree.rem_euclid(7) as usize]
}

/// Renders `spec` to 16-bit little-endian stereo PCM at 44.1 kHz: `spec.frames * 4` bytes.
pub fn render(spec: &Spec) -> Vec<u8> {
    let tables = Tables::new();
    let root = Rng::new(spec.seed);
    let mut choices = root.fork(1);
    let mut drum_rng = root.fork(2);
    let mut feel = root.fork(3);
    let mut mix = Mix::new(spec.frames);

    let scale = if spec.key.minor { &MINOR } else { &MAJOR };
    let progression = if spec.key.minor {
        *choices.pick(&MINOR_PROGRESSIONS)
    } else {
        *choices.pick(&MAJOR_PROGRESSIONS)
    };
    let style = spec.style;
    let density = match style {
        Style::Ambient => 0.45,
        Style::Chip => 1.15,
        _ => 0.9,
    };
    let verse_motif = motif(&mut choices, density, false);
    let chorus_motif = motif(&mut choices, density * 1.1, false);
    let tonic = 48 + i32::from(spec.key.tonic);

    let step_s = 60.0 / f64::from(spec.tempo) / 4.0;
    let at = |step: usize| (step as f64 * step_s * f64::from(RATE)).round() as usize;
    let secs = |steps: usize| (steps as f64 * step_s) as f32;
    let total_steps = (spec.frames as f64 / (step_s * f64::from(RATE))).ceil() as usize;
    let bars = total_steps.div_ceil(STEPS);
    let phrases = bars.div_ceil(4).max(1);

    // Sounds that never change are rendered once.
    let kick_s = kick(&tables, &mut drum_rng);
    let snares: Vec<Sound> = (0..4).map(|_| snare(&tables, &mut drum_rng)).collect();
    let closed: Vec<Sound> = (0..4).map(|_| hat(&mut drum_rng, false)).collect();
    let open = hat(&mut drum_rng, true);

    let pad = Voice {
        shape: if style == Style::Chip {
            Shape::Square
        } else {
            Shape::Saw
        },
        env: Adsr {
            attack: if style == Style::Ambient { 0.8 } else { 0.25 },
            decay: 0.5,
            sustain: 0.7,
            release: if style == Style::Ambient { 1.5 } else { 0.4 },
        },
        bright_hz: 1800.0,
        dark_hz: if style == Style::House { 700.0 } else { 1100.0 },
        spread: 0.004,
        vibrato: 0.0,
    };
    let bass = Voice {
        shape: if style == Style::Chip {
            Shape::Triangle
        } else {
            Shape::Saw
        },
        env: Adsr {
            attack: 0.005,
            decay: 0.15,
            sustain: 0.6,
            release: 0.05,
        },
        bright_hz: 1400.0,
        dark_hz: 300.0,
        spread: 0.0,
        vibrato: 0.0,
    };
    let lead = Voice {
        shape: match style {
            Style::Chip => Shape::Square,
            Style::Ambient => Shape::Sine,
            _ => Shape::Triangle,
        },
        env: Adsr {
            attack: 0.012,
            decay: 0.2,
            sustain: 0.55,
            release: if style == Style::Ambient { 0.6 } else { 0.12 },
        },
        bright_hz: 6000.0,
        dark_hz: 2500.0,
        spread: 0.001,
        vibrato: if style == Style::Chip { 0.0 } else { 0.006 },
    };
    let arp = Voice {
        shape: Shape::Square,
        env: Adsr {
            attack: 0.003,
            decay: 0.08,
            sustain: 0.2,
            release: 0.04,
        },
        bright_hz: 5000.0,
        dark_hz: 1200.0,
        spread: 0.0,
        vibrato: 0.0,
    };
    // Echo of the lead: a dotted eighth, ping-ponged and fading.
    let echo_steps = 3;
    let echoes: &[(usize, f32, f32)] = if style == Style::Ambient {
        &[
            (echo_steps, 0.5, -0.6),
            (2 * echo_steps, 0.32, 0.6),
            (3 * echo_steps, 0.2, -0.6),
        ]
    } else {
        &[(echo_steps, 0.3, -0.5), (2 * echo_steps, 0.15, 0.5)]
    };

    for bar in 0..bars {
        let sec = section(bar / 4, phrases);
        let chord = progression[bar % 4];
        let bar_step = bar * STEPS;
        let last_of_phrase = bar % 4 == 3;
        let next_sec = section(bar / 4 + 1, phrases);

        // Pad: the chord, held for the bar (a seventh added in ambient).
        let mut tones = vec![chord, chord + 2, chord + 4];
        if style == Style::Ambient {
            tones.push(chord + 6);
        }
        let pad_gain = match sec {
            Section::Break | Section::Intro => 0.11,
            _ => 0.08,
        };
        for d in &tones {
            let hz = midi_hz(degree_note(tonic, scale, *d));
            let s = pad.note(&tables, hz, secs(STEPS));
            mix.add(at(bar_step), &s, pad_gain, 0.0);
        }

        // Bass.
        let bass_root = degree_note(tonic - 12, scale, chord);
        let pattern: &[(usize, usize, i32)] = match (sec, style) {
            (Section::Intro, _) => &[],
            (Section::Break, _) | (_, Style::Ambient) => &[(0, 16, 0)],
            (_, Style::Pop) => &[
                (0, 3, 0),
                (3, 3, 0),
                (6, 2, 0),
                (8, 3, 0),
                (11, 3, 0),
                (14, 2, 12),
            ],
            (_, Style::House) => &[(2, 2, 0), (6, 2, 0), (10, 2, 0), (14, 2, 12)],
            (_, Style::Chip) => &[
                (0, 2, 0),
                (2, 2, 12),
                (4, 2, 0),
                (6, 2, 12),
                (8, 2, 0),
                (10, 2, 12),
                (12, 2, 0),
                (14, 2, 12),
            ],
        };
        for &(step, len, up) in pattern {
            let s = bass.note(&tables, midi_hz(bass_root + up), secs(len) * 0.9);
            mix.add(at(bar_step + step), &s, 0.42, 0.0);
        }

        // Drums.
        let drums = style != Style::Ambient && !matches!(sec, Section::Break);
        if drums {
            let (kicks, snare_steps): (&[usize], &[usize]) = match style {
                Style::House => (&[0, 4, 8, 12], &[4, 12]),
                Style::Chip => (&[0, 6, 8], &[4, 12]),
                _ => (&[0, 8, 10], &[4, 12]),
            };
            if sec != Section::Intro {
                for &k in kicks {
                    mix.add(at(bar_step + k), &kick_s, 0.85, 0.0);
                }
                for &s in snare_steps {
                    let v = 0.45 + 0.1 * feel.unit();
                    mix.add(at(bar_step + s), &snares[feel.below(snares.len())], v, 0.1);
                }
                // A fill into the chorus.
                if last_of_phrase && next_sec == Section::Chorus {
                    for s in [13, 14, 15] {
                        let v = 0.25 + 0.1 * feel.unit();
                        mix.add(at(bar_step + s), &snares[feel.below(snares.len())], v, 0.1);
                    }
                }
            }
            let every = if style == Style::House { 1 } else { 2 };
            for s in (0..STEPS).step_by(every) {
                let offbeat_open = style == Style::House && s % 4 == 2;
                if offbeat_open || (sec == Section::Chorus && s == 14) {
                    mix.add(at(bar_step + s), &open, 0.12, 0.3);
                } else {
                    let v = if s % 4 == 0 { 0.16 } else { 0.1 } + 0.04 * feel.unit();
                    mix.add(at(bar_step + s), &closed[feel.below(closed.len())], v, 0.3);
                }
            }
        } else if style == Style::Ambient && sec == Section::Chorus {
            mix.add(at(bar_step), &kick_s, 0.4, 0.0);
        }

        // Arpeggio: the chord's tones, an octave up, in 16ths.
        if style == Style::Chip && matches!(sec, Section::Chorus | Section::Intro) {
            for s in 0..STEPS {
                let d = tones[s % 3] + 7;
                let n = arp.note(
                    &tables,
                    midi_hz(degree_note(tonic, scale, d)),
                    secs(1) * 0.6,
                );
                mix.add(at(bar_step + s), &n, 0.1, -0.3);
            }
        }

        // Melody: the motif of the section, over the bar's chord.
        let notes = match sec {
            Section::Verse | Section::Break => &verse_motif,
            Section::Chorus => &chorus_motif,
            Section::Intro | Section::Outro => continue,
        };
        let half = bar % MOTIF_BARS;
        let gain = if sec == Section::Break { 0.2 } else { 0.27 };
        for n in notes.iter().filter(|n| n.step / STEPS == half) {
            let midi = degree_note(tonic, scale, chord + n.degree);
            let s = lead.note(&tables, midi_hz(midi), secs(n.len) * 0.85);
            let start = bar_step + n.step % STEPS;
            mix.add(at(start), &s, gain, -0.1);
            for &(delay, g, pan) in echoes {
                mix.add(at(start + delay), &s, gain * g, pan);
            }
        }
    }

    let fade_out = (spec.frames / 8).min(3 * RATE as usize);
    mix.fade(RATE as usize / 100, fade_out);
    mix.to_pcm(0.9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mix::FRAME_BYTES;

    fn samples(pcm: &[u8]) -> Vec<i16> {
        pcm.chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }

    fn spec(seed: u64, seconds: f64, style: Style) -> Spec {
        Spec::new(seed, seconds, style, None, None)
    }

    #[test]
    fn same_spec_same_bytes() {
        let s = spec(42, 3.0, Style::Pop);
        assert_eq!(render(&s), render(&s));
        assert_ne!(render(&s), render(&spec(43, 3.0, Style::Pop)));
    }

    #[test]
    fn length_is_seconds_times_rate_times_four() {
        for secs in [1.0, 2.5, 10.0] {
            let pcm = render(&spec(1, secs, Style::Chip));
            assert_eq!(pcm.len(), (secs * 44_100.0) as usize * FRAME_BYTES);
        }
    }

    #[test]
    fn every_style_is_loud_enough_and_never_clips() {
        for (i, style) in [Style::Pop, Style::House, Style::Ambient, Style::Chip]
            .into_iter()
            .enumerate()
        {
            let pcm = render(&spec(i as u64, 20.0, style));
            let s = samples(&pcm);
            let rms =
                (s.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / s.len() as f64).sqrt();
            assert!(rms > 1000.0, "{style:?} too quiet: rms {rms}");
            assert!(
                s.iter().all(|v| v.unsigned_abs() <= 32_000),
                "{style:?} clips"
            );
            // Not one held value: it moves.
            assert!(s.windows(2).filter(|w| w[0] != w[1]).count() > s.len() / 2);
        }
    }

    #[test]
    fn keys_parse() {
        let k: Key = "F#m".parse().unwrap();
        assert_eq!((k.tonic, k.minor), (6, true));
        let k: Key = "Bb".parse().unwrap();
        assert_eq!((k.tonic, k.minor), (10, false));
        let k: Key = "c minor".parse().unwrap();
        assert_eq!((k.tonic, k.minor), (0, true));
        assert_eq!(k.to_string(), "Cm");
        assert!("H".parse::<Key>().is_err());
        assert!("Ax".parse::<Key>().is_err());
    }

    #[test]
    fn sections_cover_a_long_song() {
        let s: Vec<Section> = (0..12).map(|p| section(p, 12)).collect();
        assert_eq!(s[0], Section::Intro);
        assert_eq!(s[11], Section::Outro);
        assert!(s.contains(&Section::Chorus) && s.contains(&Section::Break));
        assert_eq!(section(0, 1), Section::Verse);
    }
}
