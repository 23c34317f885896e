//! Retrying over a replica group's servers, shared by a track's fetch task and a channel's
//! task: [`Candidates`] hands out the servers to try in order, locates the group again when they
//! run out, and backs off while whole rounds fail; [`GapClock`] times the gap a failover makes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use grid_proto::media::{Failover, ServerRef};

use crate::locate::Locator;

/// First retry delay once no replica answers: loopback refusals are sub-millisecond, and a
/// restarted server must be picked up within tens of milliseconds.
const BACKOFF_START: Duration = Duration::from_millis(2);
/// Retry delay cap while every replica is dead, for the first [`BACKOFF_FAST_FOR`] of it: a
/// server restarted by its node is picked up within this.
const BACKOFF_CAP: Duration = Duration::from_millis(25);
/// How long the retries stay fast before they slow down toward [`BACKOFF_SLOW_CAP`].
const BACKOFF_FAST_FOR: Duration = Duration::from_secs(2);
/// Retry delay cap once every replica has been dead for a while: a render does not ask the
/// registry forty times a second forever.
const BACKOFF_SLOW_CAP: Duration = Duration::from_millis(500);
/// A server that failed is tried after the others for this long.
const RECENTLY_FAILED: Duration = Duration::from_secs(2);

/// The delay after `current` once nothing has answered for `retrying_for`: doubling, capped at
/// [`BACKOFF_CAP`] for the first [`BACKOFF_FAST_FOR`], then at [`BACKOFF_SLOW_CAP`].
pub(crate) fn next_backoff(current: Duration, retrying_for: Duration) -> Duration {
    let cap = if retrying_for < BACKOFF_FAST_FOR {
        BACKOFF_CAP
    } else {
        BACKOFF_SLOW_CAP
    };
    current.saturating_mul(2).min(cap).max(BACKOFF_START)
}

/// Servers that failed lately, with when.
#[derive(Debug, Default)]
pub(crate) struct RecentlyFailed(Vec<(ServerRef, Instant)>);

impl RecentlyFailed {
    pub(crate) fn add(&mut self, server: &ServerRef, now: Instant) {
        self.0.retain(|(s, _)| s != server);
        self.0.push((server.clone(), now));
    }

    /// `list` with the servers that failed in the last [`RECENTLY_FAILED`] moved to its end (in
    /// their order): a located list may still name a server that just died.
    pub(crate) fn order(&mut self, list: Vec<ServerRef>, now: Instant) -> VecDeque<ServerRef> {
        self.0
            .retain(|(_, at)| now.saturating_duration_since(*at) < RECENTLY_FAILED);
        let (failed, fresh): (Vec<_>, Vec<_>) = list
            .into_iter()
            .partition(|s| self.0.iter().any(|(f, _)| f == s));
        fresh.into_iter().chain(failed).collect()
    }
}

/// The servers a task tries, in order, and its retry state across connections.
#[derive(Debug)]
pub(crate) struct Candidates {
    queue: VecDeque<ServerRef>,
    recently_failed: RecentlyFailed,
    /// A locate since the last progress: if its servers all fail too, back off.
    located_since_progress: bool,
    backoff: Duration,
    /// When this streak of rounds without an answer began.
    retrying_since: Option<Instant>,
    retrying: bool,
    last_error: String,
}

impl Candidates {
    /// Tries `first` in order before locating the group.
    pub(crate) fn new(first: impl IntoIterator<Item = ServerRef>) -> Self {
        Self {
            queue: first.into_iter().collect(),
            recently_failed: RecentlyFailed::default(),
            located_since_progress: false,
            backoff: BACKOFF_START,
            retrying_since: None,
            retrying: false,
            last_error: String::from("no MediaServer tried yet"),
        }
    }

    /// The next server to try, or `None` after one round of locating the group again (the
    /// caller checks whether to go on, then asks again). A locate whose servers all failed
    /// makes the next one wait the backoff; the first such wait of a streak calls `retrying`
    /// with the last error.
    pub(crate) async fn next(
        &mut self,
        locator: &Locator,
        retrying: impl FnOnce(&str),
    ) -> Option<ServerRef> {
        if let Some(server) = self.queue.pop_front() {
            return Some(server);
        }
        if self.located_since_progress {
            if !self.retrying {
                self.retrying = true;
                retrying(&self.last_error);
            }
            tokio::time::sleep(self.backoff).await;
            let since = *self.retrying_since.get_or_insert_with(Instant::now);
            self.backoff = next_backoff(self.backoff, since.elapsed());
        }
        self.located_since_progress = true;
        match locator.locate().await {
            Ok(list) => self.queue = self.recently_failed.order(list, Instant::now()),
            Err(e) => self.last_error = e,
        }
        None
    }

    /// `server` is tried next (again).
    pub(crate) fn push_front(&mut self, server: ServerRef) {
        self.queue.push_front(server);
    }

    /// `server` failed: it goes after the others for a while, and `why` is the last error.
    pub(crate) fn failed(&mut self, server: &ServerRef, why: String) {
        self.last_error = why;
        self.recently_failed.add(server, Instant::now());
    }

    /// Bytes arrived: the retry state starts over.
    pub(crate) fn progressed(&mut self) {
        self.located_since_progress = false;
        self.backoff = BACKOFF_START;
        self.retrying_since = None;
        self.retrying = false;
    }

    /// In a streak of rounds in which nothing answered?
    pub(crate) fn is_retrying(&self) -> bool {
        self.retrying
    }

    /// The last failure, in words.
    pub(crate) fn last_error(&self) -> &str {
        &self.last_error
    }
}

/// Times a failover's gap: from the failed server's last byte to the next server's first.
#[derive(Debug, Default)]
pub(crate) struct GapClock {
    /// The last byte received, and from whom.
    last: Option<(ServerRef, Instant)>,
    /// Set on a failure: the server whose last byte starts the gap.
    failed_from: Option<(ServerRef, Instant)>,
}

impl GapClock {
    /// When the last byte arrived.
    pub(crate) fn last_at(&self) -> Option<Instant> {
        self.last.as_ref().map(|(_, at)| *at)
    }

    /// Bytes arrived from `server` at `now`.
    pub(crate) fn received(&mut self, server: &ServerRef, now: Instant) {
        self.last = Some((server.clone(), now));
    }

    /// The gap counts from `now` rather than the last byte (bytes were not wanted meanwhile).
    pub(crate) fn restart(&mut self, now: Instant) {
        if let Some((_, at)) = self.last.as_mut() {
            *at = now;
        }
    }

    /// A server failed: the first failure of a run starts the gap at the last byte.
    pub(crate) fn failed(&mut self) {
        if self.failed_from.is_none() {
            self.failed_from = self.last.clone();
        }
    }

    /// Has a server failed since bytes last came?
    pub(crate) fn is_failing(&self) -> bool {
        self.failed_from.is_some()
    }

    /// The failover that `to`'s first byte at `offset`, at `now`, completes, if one is pending.
    pub(crate) fn take_failover(
        &mut self,
        to: &ServerRef,
        offset: u64,
        now: Instant,
    ) -> Option<Failover> {
        self.failed_from.take().map(|(from, at)| Failover {
            from: Some(from),
            to: to.clone(),
            gap_ms: now.duration_since(at).as_secs_f64() * 1000.0,
            offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(id: &str) -> ServerRef {
        ServerRef {
            id: id.into(),
            endpoint: format!("http://{id}"),
        }
    }

    #[test]
    fn the_backoff_is_fast_for_two_seconds_then_slows_to_half_a_second() {
        let ms = Duration::from_millis;
        let mut delay = BACKOFF_START;
        let mut fast = vec![delay];
        for _ in 0..6 {
            delay = next_backoff(delay, ms(500));
            fast.push(delay);
        }
        assert_eq!(fast, [ms(2), ms(4), ms(8), ms(16), ms(25), ms(25), ms(25)]);
        let mut slow = Vec::new();
        for _ in 0..7 {
            delay = next_backoff(delay, ms(2500));
            slow.push(delay);
        }
        assert_eq!(
            slow,
            [ms(50), ms(100), ms(200), ms(400), ms(500), ms(500), ms(500)]
        );
        // Over ten seconds of a dead group the registry is asked a few dozen times, not 400.
        let (mut t, mut asks, mut delay) = (Duration::ZERO, 0, BACKOFF_START);
        while t < Duration::from_secs(10) {
            t += delay;
            asks += 1;
            delay = next_backoff(delay, t);
        }
        assert!(asks < 120, "{asks} locates in 10 s");
    }

    #[test]
    fn servers_that_failed_lately_go_last() {
        let now = Instant::now();
        let (a, b, c) = (server("a"), server("b"), server("c"));
        let mut failed = RecentlyFailed::default();
        failed.add(&a, now);
        let order = failed.order(vec![a.clone(), b.clone(), c.clone()], now);
        assert_eq!(order, [b.clone(), c.clone(), a.clone()]);
        // Still listed when it is the only one: a restart on the same address is found.
        let only = failed.order(vec![a.clone()], now);
        assert_eq!(only, std::slice::from_ref(&a));
        // After a while it is forgotten.
        let later = now + RECENTLY_FAILED;
        assert_eq!(
            failed.order(vec![a.clone(), b.clone()], later),
            [a.clone(), b.clone()]
        );
        assert!(failed.0.is_empty());
    }

    #[test]
    fn a_gap_runs_from_the_last_byte_before_the_first_failure() {
        let t0 = Instant::now();
        let (a, b) = (server("a"), server("b"));
        let mut gap = GapClock::default();
        assert!(gap.take_failover(&b, 0, t0).is_none());
        gap.received(&a, t0);
        gap.failed();
        // A second failure in the same run does not move the start.
        gap.received(&a, t0 + Duration::from_millis(5));
        gap.failed();
        assert!(gap.is_failing());
        let f = gap
            .take_failover(&b, 4096, t0 + Duration::from_millis(20))
            .unwrap();
        assert_eq!(f.from, Some(a));
        assert_eq!(f.to, b);
        assert_eq!(f.offset, 4096);
        assert!((f.gap_ms - 20.0).abs() < 1e-6, "{}", f.gap_ms);
        assert!(!gap.is_failing());
    }
}
