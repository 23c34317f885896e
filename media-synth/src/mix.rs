//! The stereo mix bus and the master stage that turns it into 16-bit PCM.

/// The output sample rate (CD, what `lame -r -s 44.1` expects).
pub const RATE: u32 = 44_100;

/// Bytes per stereo frame of 16-bit PCM.
pub const FRAME_BYTES: usize = 4;

/// A stereo float buffer the instruments add into.
#[derive(Debug)]
pub struct Mix {
    frames: Vec<[f32; 2]>,
}

/// Left and right gains for a pan position in `[-1, 1]` (linear; centre is full on both sides).
pub fn pan_gains(pan: f32) -> (f32, f32) {
    let pan = pan.clamp(-1.0, 1.0);
    (1.0 - pan.max(0.0), 1.0 + pan.min(0.0))
}

impl Mix {
    /// A silent buffer of `frames` frames.
    pub fn new(frames: usize) -> Self {
        Self {
            frames: vec![[0.0; 2]; frames],
        }
    }

    /// Frames in the buffer.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True when the buffer holds no frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Adds `sound` from frame `at`, scaled by `gain` and panned; what falls past the end is cut.
    pub fn add(&mut self, at: usize, sound: &[[f32; 2]], gain: f32, pan: f32) {
        let (gl, gr) = pan_gains(pan);
        let Some(dst) = self.frames.get_mut(at..) else {
            return;
        };
        for (d, s) in dst.iter_mut().zip(sound) {
            d[0] += s[0] * gain * gl;
            d[1] += s[1] * gain * gr;
        }
    }

    /// Fades in over `fade_in` frames and out over the last `fade_out`, so nothing starts or ends
    /// with a click.
    pub fn fade(&mut self, fade_in: usize, fade_out: usize) {
        let n = self.frames.len();
        for (i, f) in self.frames.iter_mut().enumerate() {
            let mut g = 1.0f32;
            if i < fade_in {
                g *= i as f32 / fade_in as f32;
            }
            let left = n - i;
            if left < fade_out {
                g *= left as f32 / fade_out as f32;
            }
            f[0] *= g;
            f[1] *= g;
        }
    }

    /// The master stage: a soft limiter (linear below 0.6, bending smoothly towards 1 above), then
    /// 16-bit little-endian interleaved PCM. Its ceiling is below full scale, so nothing clips.
    pub fn to_pcm(&self, master: f32) -> Vec<u8> {
        const KNEE: f32 = 0.6;
        const FULL: f32 = 32_000.0;
        let limit = |x: f32| {
            let a = (x * master).abs();
            let y = if a <= KNEE {
                a
            } else {
                let over = a - KNEE;
                KNEE + (1.0 - KNEE) * over / (over + (1.0 - KNEE))
            };
            (y.copysign(x) * FULL).round() as i16
        };
        let mut out = Vec::with_capacity(self.frames.len() * FRAME_BYTES);
        for f in &self.frames {
            out.extend_from_slice(&limit(f[0]).to_le_bytes());
            out.extend_from_slice(&limit(f[1]).to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_never_reaches_full_scale() {
        let mut m = Mix::new(4);
        m.add(
            0,
            &[[100.0, -100.0], [0.5, -0.5], [0.0, 0.0], [1e9, -1e9]],
            1.0,
            0.0,
        );
        let pcm = m.to_pcm(1.0);
        let s: Vec<i16> = pcm
            .chunks(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert!(s.iter().all(|v| v.unsigned_abs() <= 32_000), "{s:?}");
        assert_eq!(s[2], 16_000);
        assert_eq!(s[4], 0);
    }

    #[test]
    fn add_cuts_at_the_end() {
        let mut m = Mix::new(2);
        m.add(1, &[[1.0, 1.0], [1.0, 1.0]], 0.5, 0.0);
        m.add(5, &[[1.0, 1.0]], 1.0, 0.0);
        assert_eq!(m.frames, vec![[0.0, 0.0], [0.5, 0.5]]);
    }
}
