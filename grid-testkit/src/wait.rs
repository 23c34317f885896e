//! Waiting on a condition with a deadline: the only way a test here synchronises with a process.

use std::time::{Duration, Instant};

/// The first poll comes this soon, so a quick condition is seen at once (a benchmark times
/// some); the gap then doubles up to [`POLL_MAX`], so a slow one costs little.
const POLL_MIN: Duration = Duration::from_millis(1);
const POLL_MAX: Duration = Duration::from_millis(5);

fn next(gap: Duration) -> Duration {
    (gap * 2).min(POLL_MAX)
}

/// Polls `probe` until it gives a value; panics after `timeout`, naming `what` was awaited.
pub fn wait_until<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    let mut gap = POLL_MIN;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(gap);
        gap = next(gap);
    }
}

/// [`wait_until`] for a probe that awaits.
pub async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    let mut gap = POLL_MIN;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(gap).await;
        gap = next(gap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_the_first_value_and_names_what_timed_out() {
        let mut n = 0;
        assert_eq!(
            wait_until("three polls", Duration::from_secs(5), || {
                n += 1;
                (n == 3).then_some(n)
            }),
            3
        );
        let err = std::panic::catch_unwind(|| {
            wait_until("nothing", Duration::from_millis(20), || None::<()>)
        })
        .expect_err("it panics at the deadline");
        let text = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("waiting for nothing"), "{text}");
    }
}
