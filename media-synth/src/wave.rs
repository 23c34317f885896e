//! Oscillators, envelopes and pitch. Everything is built from `+ - * /` only (no `sin`, `exp` or
//! `powf` from the platform's libm), so the PCM is bit-identical on every IEEE machine and the
//! track ids stay the same everywhere.

/// Entries in one wavetable cycle (a power of two, for the wrap).
const TABLE_LEN: usize = 2048;

/// `sin(x)` for any `x`, by range reduction and a Taylor series: about 1e-6 off, which no one hears.
pub fn sine(x: f64) -> f64 {
    let tau = std::f64::consts::TAU;
    let pi = std::f64::consts::PI;
    let mut r = x - tau * (x / tau).floor(); // [0, tau)
    if r > pi {
        r -= tau; // [-pi, pi]
    }
    let r2 = r * r;
    let mut term = r;
    let mut sum = r;
    for k in 1..=9 {
        let k = f64::from(k);
        term = -term * r2 / ((2.0 * k) * (2.0 * k + 1.0));
        sum += term;
    }
    sum
}

/// The waveforms the instruments use, each a band-limited additive table (so no aliasing whine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A pure sine.
    Sine,
    /// Sawtooth, 24 harmonics: pads and bass.
    Saw,
    /// Square, odd harmonics to 23: leads, chip arpeggios.
    Square,
    /// Triangle, odd harmonics falling off as 1/n²: soft leads.
    Triangle,
}

/// One cycle of every [`Shape`], computed once per render.
#[derive(Debug)]
pub struct Tables {
    sine: Vec<f32>,
    saw: Vec<f32>,
    square: Vec<f32>,
    triangle: Vec<f32>,
}

impl Tables {
    /// Builds the tables.
    pub fn new() -> Self {
        let build = |harmonic: &dyn Fn(u32) -> f64, top: u32| -> Vec<f32> {
            let mut t: Vec<f64> = (0..TABLE_LEN)
                .map(|i| {
                    let x = std::f64::consts::TAU * i as f64 / TABLE_LEN as f64;
                    (1..=top)
                        .map(|n| harmonic(n) * sine(x * f64::from(n)))
                        .sum()
                })
                .collect();
            let peak = t.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            t.iter_mut().for_each(|v| *v /= peak);
            t.into_iter().map(|v| v as f32).collect()
        };
        Self {
            sine: build(&|n| if n == 1 { 1.0 } else { 0.0 }, 1),
            saw: build(&|n| 1.0 / f64::from(n), 24),
            square: build(&|n| if n % 2 == 1 { 1.0 / f64::from(n) } else { 0.0 }, 23),
            triangle: build(
                &|n| {
                    if n % 2 == 0 {
                        0.0
                    } else {
                        // Alternating signs give the triangle's corners.
                        let s = if n % 4 == 1 { 1.0 } else { -1.0 };
                        s / f64::from(n * n)
                    }
                },
                23,
            ),
        }
    }

    /// The value of `shape` at `phase` (in cycles; only the fraction counts), interpolated.
    pub fn at(&self, shape: Shape, phase: f32) -> f32 {
        let t = match shape {
            Shape::Sine => &self.sine,
            Shape::Saw => &self.saw,
            Shape::Square => &self.square,
            Shape::Triangle => &self.triangle,
        };
        let pos = (phase - phase.floor()) * TABLE_LEN as f32;
        let i = pos as usize % TABLE_LEN;
        let frac = pos - pos.floor();
        let a = t[i];
        let b = t[(i + 1) % TABLE_LEN];
        a + (b - a) * frac
    }
}

impl Default for Tables {
    fn default() -> Self {
        Self::new()
    }
}

/// 2^(k/12) for k in 0..12, written out so no `powf` is involved.
const SEMITONES: [f32; 12] = [
    1.0,
    1.059_463_1,
    1.122_462,
    1.189_207_1,
    1.259_921,
    1.334_839_9,
    std::f32::consts::SQRT_2,
    1.498_307,
    1.587_401,
    1.681_792_8,
    1.781_797_4,
    1.887_748_6,
];

/// The frequency of MIDI note `note` (69 = A4 = 440 Hz).
pub fn midi_hz(note: i32) -> f32 {
    let rel = note - 69;
    let octave = rel.div_euclid(12);
    let semi = rel.rem_euclid(12) as usize;
    let mut f = 440.0 * SEMITONES[semi];
    if octave >= 0 {
        for _ in 0..octave {
            f *= 2.0;
        }
    } else {
        for _ in 0..-octave {
            f *= 0.5;
        }
    }
    f
}

/// Attack-decay-sustain-release gain at `t` seconds into a note held for `held` seconds. Segments
/// are curves made of products (a falling square, not an exponential) for the reason at the top.
#[derive(Debug, Clone, Copy)]
pub struct Adsr {
    /// Seconds to full level.
    pub attack: f32,
    /// Seconds from full level down to `sustain`.
    pub decay: f32,
    /// Level held while the note is held, 0..=1.
    pub sustain: f32,
    /// Seconds to silence after the note ends.
    pub release: f32,
}

impl Adsr {
    /// The gain at `t`.
    pub fn at(&self, t: f32, held: f32) -> f32 {
        let holding = |t: f32| {
            if t < self.attack {
                t / self.attack
            } else if t < self.attack + self.decay {
                let x = 1.0 - (t - self.attack) / self.decay;
                self.sustain + (1.0 - self.sustain) * x * x
            } else {
                self.sustain
            }
        };
        if t < held {
            holding(t)
        } else if t < held + self.release {
            let x = 1.0 - (t - held) / self.release;
            holding(held) * x * x
        } else {
            0.0
        }
    }

    /// How long the note sounds, release included.
    pub fn length(&self, held: f32) -> f32 {
        held + self.release
    }
}

/// A one-pole low-pass filter: cheap warmth for saws and noise.
#[derive(Debug, Clone, Copy, Default)]
pub struct LowPass {
    y: f32,
}

impl LowPass {
    /// Filters `x` with cutoff `hz` at `rate`.
    pub fn run(&mut self, x: f32, hz: f32, rate: f32) -> f32 {
        // w/(1+w) is the bilinear-ish coefficient: close to 1-e^-w without an exp.
        let w = std::f32::consts::TAU * hz / rate;
        let a = w / (1.0 + w);
        self.y += a * (x - self.y);
        self.y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_matches_libm() {
        for i in -100..100 {
            let x = f64::from(i) * 0.37;
            assert!((sine(x) - x.sin()).abs() < 1e-5, "sin({x})");
        }
    }

    #[test]
    fn pitches() {
        assert_eq!(midi_hz(69), 440.0);
        assert_eq!(midi_hz(57), 220.0);
        assert!((midi_hz(60) - 261.6256).abs() < 0.01);
    }

    #[test]
    fn tables_are_normalised() {
        let t = Tables::new();
        for shape in [Shape::Sine, Shape::Saw, Shape::Square, Shape::Triangle] {
            let peak = (0..4096)
                .map(|i| t.at(shape, i as f32 / 4096.0).abs())
                .fold(0.0f32, f32::max);
            assert!((0.95..=1.0001).contains(&peak), "{shape:?}: {peak}");
        }
    }

    #[test]
    fn envelope_shape() {
        let e = Adsr {
            attack: 0.01,
            decay: 0.1,
            sustain: 0.5,
            release: 0.2,
        };
        assert_eq!(e.at(0.0, 1.0), 0.0);
        assert!((e.at(0.01, 1.0) - 1.0).abs() < 1e-6);
        assert!((e.at(0.5, 1.0) - 0.5).abs() < 1e-6);
        assert_eq!(e.at(1.3, 1.0), 0.0);
    }
}
