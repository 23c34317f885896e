//! Silent MP3 frames in real time: what a channel plays when it has nothing else (an empty
//! playlist, a relay between two connections to its upstream).

use std::time::Instant;

use bytes::Bytes;

use crate::mpeg::{self, FrameHeader};

/// A clock of silent frames shaped like a given frame.
#[derive(Debug)]
pub struct Silence {
    frame: Vec<u8>,
    /// Frames per second, as a fraction: `rate / samples`.
    rate: u32,
    samples: u32,
    since: Instant,
    sent: u64,
}

impl Silence {
    /// Silence shaped like the frame whose header is `header` (the default shape if it is not a
    /// Layer III header), starting now.
    pub fn new(header: [u8; 4]) -> Self {
        let (frame, parsed) = mpeg::silent_frame(header)
            .and_then(|f| FrameHeader::parse(&f).map(|h| (f, h)))
            .unwrap_or_else(|| {
                let f = mpeg::silent_frame(mpeg::DEFAULT_HEADER).unwrap_or_default();
                let h = FrameHeader::parse(&f).expect("the default header parses");
                (f, h)
            });
        Silence {
            frame,
            rate: parsed.sample_rate,
            samples: parsed.samples(),
            since: Instant::now(),
            sent: 0,
        }
    }

    /// Starts counting again from `now` (after a pause in the silence).
    pub fn restart(&mut self, now: Instant) {
        self.since = now;
        self.sent = 0;
    }

    /// The frames due between the last call and `now`, as one piece (`None` if none is due).
    pub fn due(&mut self, now: Instant) -> Option<Bytes> {
        let elapsed_us = now.saturating_duration_since(self.since).as_micros();
        let due =
            (elapsed_us * u128::from(self.rate) / (1_000_000 * u128::from(self.samples))) as u64;
        let n = due.saturating_sub(self.sent);
        if n == 0 {
            return None;
        }
        self.sent = due;
        let n = usize::try_from(n).unwrap_or(usize::MAX).min(10_000);
        Some(Bytes::from(self.frame.repeat(n)))
    }

    /// Bitrate of the frames.
    pub fn bitrate_kbps(&self) -> u32 {
        FrameHeader::parse(&self.frame).map_or(128, |h| h.bitrate_kbps)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn frames_come_at_the_frame_rate() {
        let mut s = Silence::new(mpeg::DEFAULT_HEADER);
        let t0 = s.since;
        assert!(s.due(t0).is_none());
        // 38.28 frames per second at 44.1 kHz: 38 in a second, 417 bytes each at 128 kbit/s.
        let one = s.due(t0 + Duration::from_secs(1)).unwrap();
        assert_eq!(one.len(), 38 * 417);
        assert_eq!(&one[..4], &[0xFF, 0xFB, 0x90, 0x44]);
        let two = s.due(t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(two.len(), 38 * 417);
        assert_eq!(s.bitrate_kbps(), 128);
    }
}
