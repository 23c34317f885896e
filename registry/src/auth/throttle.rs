//! Login throttling: failed logins slow down whoever keeps failing, not the user they aim at.
//!
//! Failures are counted per (user, peer address) and, with a higher allowance, per peer address
//! alone (one address trying many names). From the [`FREE_FAILURES`]th failure of a key on, each
//! failure makes the key wait twice as long as the last (1 s, 2 s, 4 s, ... up to [`MAX_DELAY`])
//! before its next attempt is even checked. A success clears the (user, peer) key. The real user
//! logging in from another address is never held up by an attacker's failures. The table is in
//! memory and bounded: a restart forgets it, which costs an attacker a restart of the registry
//! per few guesses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one (user, peer) pair answered at once; the last of them begins the delays.
pub const FREE_FAILURES: u32 = 5;
/// Failures of one peer, over all user names, answered at once.
pub const FREE_PEER_FAILURES: u32 = 50;
/// The longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(300);
/// Keys remembered at most; beyond it the stalest go first.
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair(String, IpAddr),
    Peer(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    /// No attempt is checked before this.
    until: Instant,
    last: Instant,
}

/// What a failure did to its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Still within the allowance.
    Counted,
    /// The next attempt must wait this long (the first failure past the allowance, or one more).
    Delayed(Duration),
}

/// The failure table.
#[derive(Debug, Default)]
pub struct Throttle {
    keys: Mutex<HashMap<Key, Record>>,
    /// Checks in flight per key: a failure is counted only once its check is done, so a burst
    /// of parallel guesses would all pass a hold that has not begun yet.
    checking: Mutex<HashMap<Key, u32>>,
}

/// Checks of one (user, address) at once.
const PAIR_CHECKS: u32 = 1;
/// Checks from one address at once.
const PEER_CHECKS: u32 = 4;

/// A check in flight; dropping it ends it.
#[derive(Debug)]
pub struct Checking<'a> {
    throttle: &'a Throttle,
    keys: [Key; 2],
}

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        let mut checking = self
            .throttle
            .checking
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(n) = checking.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    checking.remove(key);
                }
            }
        }
    }
}

/// The delay after `failures` failures with `free` of them allowed.
fn delay(failures: u32, free: u32) -> Option<Duration> {
    let over = failures.checked_sub(free)?;
    let secs = 1u64 << over.min(16);
    Some(Duration::from_secs(secs).min(MAX_DELAY))
}

impl Throttle {
    /// How long `user` from `peer` must still wait before an attempt is checked, if at all.
    pub fn wait(&self, user: &str, peer: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        [Key::Pair(user.to_owned(), peer), Key::Peer(peer)]
            .iter()
            .filter_map(|k| keys.get(k))
            .filter(|r| r.until > now)
            .map(|r| r.until - now)
            .max()
    }

    /// Starts a check of `user` from `peer`, unless that pair already has one in flight or
    /// the address has [`PEER_CHECKS`]: then the caller is held like a throttled attempt.
    pub fn begin(&self, user: &str, peer: IpAddr) -> Option<Checking<'_>> {
        let keys = [Key::Pair(user.to_owned(), peer), Key::Peer(peer)];
        let mut checking = self.checking.lock().unwrap_or_else(|p| p.into_inner());
        let now = |k: &Key| checking.get(k).copied().unwrap_or(0);
        if now(&keys[0]) >= PAIR_CHECKS || now(&keys[1]) >= PEER_CHECKS {
            return None;
        }
        for key in &keys {
            *checking.entry(key.clone()).or_default() += 1;
        }
        Some(Checking {
            throttle: self,
            keys,
        })
    }

    /// Counts a failed attempt of `user` from `peer`.
    pub fn failed(&self, user: &str, peer: IpAddr) -> Failed {
        let now = Instant::now();
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= MAX_KEYS {
            prune(&mut keys, now);
        }
        let mut longest = None;
        for (key, free) in [
            (Key::Pair(user.to_owned(), peer), FREE_FAILURES),
            (Key::Peer(peer), FREE_PEER_FAILURES),
        ] {
            let r = keys.entry(key).or_insert(Record {
                failures: 0,
                until: now,
                last: now,
            });
            r.failures = r.failures.saturating_add(1);
            r.last = now;
            if let Some(d) = delay(r.failures, free) {
                r.until = now + d;
                longest = longest.max(Some(d));
            }
        }
        longest.map_or(Failed::Counted, Failed::Delayed)
    }

    /// A successful login of `user` from `peer`: its pair starts afresh.
    pub fn succeeded(&self, user: &str, peer: IpAddr) {
        self.keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&Key::Pair(user.to_owned(), peer));
    }
}

/// Forgets keys quiet for longer than the longest delay, then, if still full, the stalest half.
fn prune(keys: &mut HashMap<Key, Record>, now: Instant) {
    keys.retain(|_, r| now.duration_since(r.last) < MAX_DELAY);
    if keys.len() >= MAX_KEYS {
        let mut lasts: Vec<Instant> = keys.values().map(|r| r.last).collect();
        lasts.sort_unstable();
        let cut = lasts[lasts.len() / 2];
        keys.retain(|_, r| r.last > cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn delays_double_after_the_allowance_and_cap() {
        assert_eq!(delay(4, 5), None);
        assert_eq!(delay(5, 5), Some(Duration::from_secs(1)));
        assert_eq!(delay(6, 5), Some(Duration::from_secs(2)));
        assert_eq!(delay(9, 5), Some(Duration::from_secs(16)));
        assert_eq!(delay(40, 5), Some(MAX_DELAY));
        assert_eq!(delay(u32::MAX, 5), Some(MAX_DELAY));
    }

    #[test]
    fn one_pair_is_held_and_the_user_elsewhere_is_not() {
        let t = Throttle::default();
        for _ in 1..FREE_FAILURES {
            assert_eq!(t.failed("admin", A), Failed::Counted);
        }
        assert_eq!(t.wait("admin", A), None);
        assert_eq!(
            t.failed("admin", A),
            Failed::Delayed(Duration::from_secs(1))
        );
        assert!(t.wait("admin", A).is_some());
        assert_eq!(t.wait("admin", B), None);
        assert_eq!(t.wait("other", A), None);
        t.succeeded("admin", A);
        assert_eq!(t.wait("admin", A), None);
    }

    #[test]
    fn one_peer_spraying_names_is_held_for_every_name() {
        let t = Throttle::default();
        for i in 1..FREE_PEER_FAILURES {
            t.failed(&format!("user{i}"), A);
        }
        assert_eq!(t.wait("fresh", A), None);
        assert!(matches!(t.failed("fresh", A), Failed::Delayed(_)));
        assert!(t.wait("another", A).is_some());
        assert_eq!(t.wait("another", B), None);
    }

    #[test]
    fn parallel_checks_of_one_pair_wait_their_turn() {
        let t = Throttle::default();
        let first = t.begin("admin", A).expect("the first check");
        assert!(
            t.begin("admin", A).is_none(),
            "a second check of the pair waits"
        );
        let others: Vec<_> = (0..PEER_CHECKS - 1)
            .map(|i| t.begin(&format!("u{i}"), A).expect("other names"))
            .collect();
        assert!(t.begin("more", A).is_none(), "the address has its checks");
        assert!(t.begin("admin", B).is_some(), "another address is not held");
        drop(first);
        drop(others);
        assert!(t.begin("admin", A).is_some());
    }

    #[test]
    fn the_table_stays_bounded() {
        let t = Throttle::default();
        for i in 0..(MAX_KEYS as u32 + 10) {
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(i));
            t.failed("x", ip);
        }
        assert!(t.keys.lock().unwrap().len() <= MAX_KEYS + 2);
    }
}
