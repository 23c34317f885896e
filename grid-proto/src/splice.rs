//! Joining a stream to what was already played after a rejoin (a render on a channel whose
//! MediaServer died, a relay whose parent in the tree died): MediaServers play a channel on
//! the wall clock's schedule and relays pass its bytes on unchanged, so the new upstream's
//! burst holds the very bytes already played, then the ones that follow. [`Splicer`] holds the
//! new audio until the last bytes played turn up in it and lets through what follows them, so
//! nothing is repeated or lost; audio that does not continue what was played follows as it is.

use std::time::{Duration, Instant};

/// What was played last, and a rejoin's audio held until it is joined to it.
#[derive(Debug, Default)]
pub struct Splicer {
    /// The last bytes played (written to a sink, passed on to listeners).
    tail: Vec<u8>,
    /// After a rejoin: audio held until it is joined, and when the first of it came.
    pending: Option<(Vec<u8>, Option<Instant>)>,
}

/// What is matched: the last this-many bytes played.
const SPLICE_NEEDLE: usize = 1024;
/// Kept of what was played.
const SPLICE_TAIL: usize = 4096;
/// A burst has arrived within this long; without a match by then, the audio differs.
const SPLICE_WAIT: Duration = Duration::from_millis(300);
/// Never hold more than this waiting for a match.
const SPLICE_MAX: usize = 1 << 20;

/// How a rejoin was joined to what was played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spliced {
    /// The replica's audio continued what was played; this many bytes of it were played already.
    Joined(usize),
    /// No match: the replica's audio follows as it is.
    Differs,
}

impl Splicer {
    /// A new connection after a failure: hold its audio until it is joined.
    pub fn rejoin(&mut self) {
        if self.tail.len() >= SPLICE_NEEDLE {
            self.pending = Some((Vec::new(), None));
        }
    }

    /// `data` arrived at `now`: what to play of it, and how a pending rejoin was joined.
    pub fn push(&mut self, data: &[u8], now: Instant) -> (Vec<u8>, Option<Spliced>) {
        let Some((held, since)) = self.pending.as_mut() else {
            self.remember(data);
            return (data.to_vec(), None);
        };
        held.extend_from_slice(data);
        let first = *since.get_or_insert(now);
        let needle = &self.tail[self.tail.len() - SPLICE_NEEDLE..];
        // The last occurrence: a burst longer than a loop would hold it twice.
        if let Some(at) = held.windows(SPLICE_NEEDLE).rposition(|w| w == needle) {
            let skipped = at + SPLICE_NEEDLE;
            let out = held.split_off(skipped);
            self.pending = None;
            self.remember(&out);
            return (out, Some(Spliced::Joined(skipped)));
        }
        if now.duration_since(first) >= SPLICE_WAIT || held.len() >= SPLICE_MAX {
            let out = std::mem::take(held);
            self.pending = None;
            self.remember(&out);
            return (out, Some(Spliced::Differs));
        }
        (Vec::new(), None)
    }

    fn remember(&mut self, played: &[u8]) {
        self.tail.extend_from_slice(played);
        if self.tail.len() > SPLICE_TAIL {
            self.tail.drain(..self.tail.len() - SPLICE_TAIL);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(from: usize, to: usize) -> Vec<u8> {
        (from..to)
            .map(|i| (i * 7 % 251) as u8 ^ (i / 251) as u8)
            .collect()
    }

    #[test]
    fn a_replicas_burst_is_joined_where_the_played_audio_ends() {
        let mut s = Splicer::default();
        let t0 = Instant::now();
        let (out, how) = s.push(&audio(0, 10_000), t0);
        assert_eq!((out, how), (audio(0, 10_000), None));
        s.rejoin();
        // The replica's burst starts 3,000 bytes back, in two pieces.
        let (out, how) = s.push(&audio(7_000, 8_000), t0);
        assert_eq!((out.len(), how), (0, None), "held until joined");
        let (out, how) = s.push(&audio(8_000, 12_000), t0);
        assert_eq!(how, Some(Spliced::Joined(3_000)));
        assert_eq!(out, audio(10_000, 12_000));
        let (out, how) = s.push(&audio(12_000, 13_000), t0);
        assert_eq!((out, how), (audio(12_000, 13_000), None));
    }

    #[test]
    fn audio_that_does_not_continue_follows_as_it_is_after_a_short_wait() {
        let mut s = Splicer::default();
        let t0 = Instant::now();
        s.push(&audio(0, 10_000), t0);
        s.rejoin();
        let other = audio(50_000, 52_000);
        assert_eq!(s.push(&other, t0).0.len(), 0);
        let (out, how) = s.push(&audio(52_000, 52_100), t0 + SPLICE_WAIT);
        assert_eq!(how, Some(Spliced::Differs));
        assert_eq!(out, audio(50_000, 52_100));
    }

    #[test]
    fn the_first_join_passes_through() {
        let mut s = Splicer::default();
        s.rejoin();
        let (out, how) = s.push(b"abc", Instant::now());
        assert_eq!((out, how), (b"abc".to_vec(), None));
    }
}
