//! Restart backoff, as pure functions so the sequence can be tested without processes or clocks.

use std::time::Duration;

/// The backoff settings of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first non-zero delay.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
    /// A process that stayed up this long starts the sequence afresh.
    pub reset_after: Duration,
}

impl Backoff {
    /// The consecutive-failure count after a process that ran for `uptime` ended unasked.
    pub fn next_failures(&self, previous: u32, uptime: Duration) -> u32 {
        if uptime >= self.reset_after {
            1
        } else {
            previous.saturating_add(1)
        }
    }

    /// The delay before restarting after `failures` consecutive failures (1 = the first).
    ///
    /// The first restart is immediate; then `base * 2^(n-2)` capped at `max`, scaled by `jitter`
    /// (clamped to [0.5, 1.0]) so that servers which crashed together do not restart in lockstep.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        if failures <= 1 {
            return Duration::ZERO;
        }
        let exp = (failures - 2).min(32);
        let raw = self
            .base
            .checked_mul(1u32 << exp.min(31))
            .unwrap_or(self.max)
            .min(self.max);
        raw.mul_f64(jitter.clamp(0.5, 1.0))
    }
}

/// A random jitter factor in [0.5, 1.0].
pub fn jitter() -> f64 {
    rand::random_range(0.5..=1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b() -> Backoff {
        Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            reset_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn first_restart_is_immediate_then_doubles() {
        let ms: Vec<u128> = (1..=6).map(|n| b().delay(n, 1.0).as_millis()).collect();
        assert_eq!(ms, [0, 100, 200, 400, 800, 1000]);
    }

    #[test]
    fn delay_is_capped_even_for_huge_counts() {
        assert_eq!(b().delay(40, 1.0), Duration::from_millis(1000));
        assert_eq!(b().delay(u32::MAX, 1.0), Duration::from_millis(1000));
    }

    #[test]
    fn jitter_scales_between_half_and_full() {
        assert_eq!(b().delay(3, 0.5), Duration::from_millis(100));
        assert_eq!(b().delay(3, 0.1), Duration::from_millis(100));
        assert_eq!(b().delay(3, 7.0), Duration::from_millis(200));
        for _ in 0..100 {
            let j = jitter();
            assert!((0.5..=1.0).contains(&j));
        }
    }

    #[test]
    fn long_uptime_resets_the_count() {
        let b = b();
        assert_eq!(b.next_failures(0, Duration::ZERO), 1);
        assert_eq!(b.next_failures(4, Duration::from_secs(1)), 5);
        assert_eq!(b.next_failures(4, Duration::from_secs(10)), 1);
        assert_eq!(b.next_failures(u32::MAX, Duration::ZERO), u32::MAX);
    }
}
