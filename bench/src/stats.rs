//! Median and p99 of a set of durations.

use std::time::Duration;

/// Figures of one measurement.
#[derive(Debug)]
pub struct Summary {
    sorted: Vec<Duration>,
}

impl Summary {
    /// Sorts the samples.
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        Self { sorted: samples }
    }

    /// The q-quantile (nearest rank).
    pub fn quantile(&self, q: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((q * self.sorted.len() as f64).ceil() as usize).clamp(1, self.sorted.len());
        self.sorted[rank - 1]
    }

    /// `median X ms, p99 Y ms (n runs)`.
    pub fn line_ms(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "median {:7.2} ms, p99 {:7.2} ms, min {:7.2} ms ({} runs)",
            ms(self.quantile(0.5)),
            ms(self.quantile(0.99)),
            ms(self.sorted.first().copied().unwrap_or_default()),
            self.sorted.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let s = Summary::of((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(s.quantile(0.5), Duration::from_millis(50));
        assert_eq!(s.quantile(0.99), Duration::from_millis(99));
        assert_eq!(s.quantile(1.0), Duration::from_millis(100));
        assert_eq!(Summary::of(vec![]).quantile(0.5), Duration::ZERO);
    }
}
