//! The session table: who holds which token, until when.
//!
//! A token is 24 random bytes; the table (and the database behind it) keeps only its SHA-256,
//! so a copy of the database opens no session. A session's public id is a prefix of that hash.

use std::collections::HashMap;
use std::sync::Mutex;

use grid_proto::access::SessionView;
use sha2::{Digest, Sha256};

use crate::store::StoredSession;

/// Hex digits of the token hash that name a session in lists and revocations.
const ID_LEN: usize = 16;

/// The hash a token is kept under.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A session's public id, from its token hash.
pub fn public_id(hash: &str) -> &str {
    hash.get(..ID_LEN).unwrap_or(hash)
}

/// Live sessions by token hash.
#[derive(Debug, Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, StoredSession>>,
}

impl Sessions {
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoredSession>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The table loaded from the store; the hashes of those already expired, to delete.
    pub fn loaded(stored: Vec<(String, StoredSession)>, now_ms: u64) -> (Self, Vec<String>) {
        let (live, expired): (Vec<_>, Vec<_>) =
            stored.into_iter().partition(|(_, s)| s.expires_ms > now_ms);
        let table = Self {
            live: Mutex::new(live.into_iter().collect()),
        };
        (table, expired.into_iter().map(|(h, _)| h).collect())
    }

    /// Adds a session.
    pub fn insert(&self, hash: String, session: StoredSession) {
        self.table().insert(hash, session);
    }

    /// The live session with this token hash.
    pub fn get(&self, hash: &str, now_ms: u64) -> Option<StoredSession> {
        self.table()
            .get(hash)
            .filter(|s| s.expires_ms > now_ms)
            .cloned()
    }

    /// Forgets sessions.
    pub fn remove(&self, hashes: &[String]) {
        let mut table = self.table();
        for h in hashes {
            table.remove(h);
        }
    }

    /// The hashes of sessions expired by `now_ms`.
    pub fn expired(&self, now_ms: u64) -> Vec<String> {
        self.table()
            .iter()
            .filter(|(_, s)| s.expires_ms <= now_ms)
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// The hashes of `user`'s sessions.
    pub fn of_user(&self, user: &str) -> Vec<String> {
        self.table()
            .iter()
            .filter(|(_, s)| s.user == user)
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// The hashes whose public id is `id`.
    pub fn with_id(&self, id: &str) -> Vec<(String, StoredSession)> {
        self.table()
            .iter()
            .filter(|(h, _)| public_id(h) == id)
            .map(|(h, s)| (h.clone(), s.clone()))
            .collect()
    }

    /// Live sessions, of `user` only when given, oldest first; `current` marks the asker's.
    pub fn list(&self, user: Option<&str>, current: &str, now_ms: u64) -> Vec<SessionView> {
        let mut out: Vec<SessionView> = self
            .table()
            .iter()
            .filter(|(_, s)| s.expires_ms > now_ms && user.is_none_or(|u| s.user == u))
            .map(|(h, s)| SessionView {
                id: public_id(h).to_owned(),
                user: s.user.clone(),
                peer: s.peer.clone(),
                created_ms: s.created_ms,
                expires_ms: s.expires_ms,
                current: h == current,
            })
            .collect();
        out.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        out
    }

    /// Live sessions, by user.
    pub fn counts(&self, now_ms: u64) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for s in self.table().values().filter(|s| s.expires_ms > now_ms) {
            *counts.entry(s.user.clone()).or_default() += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user: &str, expires_ms: u64) -> StoredSession {
        StoredSession {
            schema: 1,
            user: user.into(),
            peer: "127.0.0.1".into(),
            created_ms: 0,
            expires_ms,
        }
    }

    #[test]
    fn expired_sessions_are_dropped_at_load_and_never_answered() {
        let a = token_hash("a");
        let b = token_hash("b");
        let (t, gone) = Sessions::loaded(
            vec![
                (a.clone(), session("x", 100)),
                (b.clone(), session("y", 10)),
            ],
            50,
        );
        assert_eq!(gone, vec![b]);
        assert!(t.get(&a, 50).is_some());
        assert!(t.get(&a, 100).is_none());
        assert_eq!(t.expired(100), vec![a.clone()]);
        let listed = t.list(None, &a, 50);
        assert_eq!(listed.len(), 1);
        assert!(listed[0].current);
        assert_eq!(listed[0].id.len(), ID_LEN);
        assert_eq!(t.with_id(&listed[0].id).len(), 1);
        assert_eq!(t.of_user("x"), [a]);
        assert_ne!(token_hash("a"), "a");
    }
}
