//! The instruments: each renders one note or hit into a fresh stereo buffer, which the song adds
//! to the mix where it falls.

use crate::mix::RATE;
use crate::rng::Rng;
use crate::wave::{Adsr, LowPass, Shape, Tables};

/// A rendered sound.
pub type Sound = Vec<[f32; 2]>;

fn frames(seconds: f32) -> usize {
    (seconds * RATE as f32) as usize
}

/// `(1 - t/len)^2`, clamped: the falling curve drums decay along.
fn fall(t: f32, len: f32) -> f32 {
    let x = (1.0 - t / len).max(0.0);
    x * x
}

/// A kick: a sine swept from ~150 Hz down to 48 Hz, with a click of noise on top.
pub fn kick(tables: &Tables, rng: &mut Rng) -> Sound {
    let rate = RATE as f32;
    let len = 0.38;
    let mut phase = 0.0f32;
    (0..frames(len))
        .map(|i| {
            let t = i as f32 / rate;
            let hz = 48.0 + 100.0 * fall(t, 0.09);
            phase += hz / rate;
            let body = tables.at(Shape::Sine, phase) * fall(t, len);
            let click = if t < 0.003 { rng.noise() * 0.3 } else { 0.0 };
            let v = body + click;
            [v, v]
        })
        .collect()
}

/// A snare: high-passed noise plus a short 185 Hz body; the noise differs left and right.
pub fn snare(tables: &Tables, rng: &mut Rng) -> Sound {
    let rate = RATE as f32;
    let len = 0.22;
    let (mut lp_l, mut lp_r) = (LowPass::default(), LowPass::default());
    (0..frames(len))
        .map(|i| {
            let t = i as f32 / rate;
            let env = fall(t, len);
            let env = env * env.sqrt();
            let (nl, nr) = (rng.noise(), rng.noise());
            let hl = nl - lp_l.run(nl, 1200.0, rate);
            let hr = nr - lp_r.run(nr, 1200.0, rate);
            let body = tables.at(Shape::Sine, 185.0 * t) * fall(t, 0.07) * 0.6;
            [hl * env * 0.7 + body, hr * env * 0.7 + body]
        })
        .collect()
}

/// A hi-hat: noise through a high-pass, short when closed, ringing when open.
pub fn hat(rng: &mut Rng, open: bool) -> Sound {
    let rate = RATE as f32;
    let len = if open { 0.3 } else { 0.05 };
    let mut lp = LowPass::default();
    (0..frames(len))
        .map(|i| {
            let t = i as f32 / rate;
            let n = rng.noise();
            let v = (n - lp.run(n, 7000.0, rate)) * fall(t, len);
            [v, v]
        })
        .collect()
}

/// A pitched note of any synth voice.
#[derive(Debug, Clone, Copy)]
pub struct Voice {
    /// Waveform.
    pub shape: Shape,
    /// Amplitude envelope.
    pub env: Adsr,
    /// Low-pass cutoff when the note starts, in Hz ...
    pub bright_hz: f32,
    /// ... falling to this one over `env.decay` (a pluck's "wow").
    pub dark_hz: f32,
    /// Detune of the right channel against the left, as a ratio (0 = mono): stereo width.
    pub spread: f32,
    /// Vibrato depth as a frequency ratio, starting after 0.2 s.
    pub vibrato: f32,
}

impl Voice {
    /// Renders a note of `hz` held for `held` seconds (the release comes after).
    pub fn note(&self, tables: &Tables, hz: f32, held: f32) -> Sound {
        let rate = RATE as f32;
        let (mut pl, mut pr) = (0.0f32, 0.0f32);
        let (mut fl, mut fr) = (LowPass::default(), LowPass::default());
        (0..frames(self.env.length(held)))
            .map(|i| {
                let t = i as f32 / rate;
                let vib = if self.vibrato > 0.0 && t > 0.2 {
                    1.0 + self.vibrato * tables.at(Shape::Sine, 5.5 * t)
                } else {
                    1.0
                };
                pl += hz * vib * (1.0 - self.spread) / rate;
                pr += hz * vib * (1.0 + self.spread) / rate;
                let cutoff =
                    self.dark_hz + (self.bright_hz - self.dark_hz) * fall(t, self.env.decay);
                let g = self.env.at(t, held);
                [
                    fl.run(tables.at(self.shape, pl), cutoff, rate) * g,
                    fr.run(tables.at(self.shape, pr), cutoff, rate) * g,
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak(s: &Sound) -> f32 {
        s.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()))
    }

    #[test]
    fn drums_are_audible_and_bounded() {
        let t = Tables::new();
        let mut r = Rng::new(3);
        for s in [kick(&t, &mut r), snare(&t, &mut r), hat(&mut r, true)] {
            let p = peak(&s);
            assert!(p > 0.05 && p < 2.0, "peak {p}");
        }
    }

    #[test]
    fn note_length_includes_release() {
        let v = Voice {
            shape: Shape::Saw,
            env: Adsr {
                attack: 0.01,
                decay: 0.1,
                sustain: 0.5,
                release: 0.1,
            },
            bright_hz: 3000.0,
            dark_hz: 800.0,
            spread: 0.003,
            vibrato: 0.0,
        };
        let s = v.note(&Tables::new(), 220.0, 0.5);
        assert_eq!(s.len(), frames(0.6));
        assert!(peak(&s) > 0.1);
    }
}
