//! Users, sessions and the audit log in sled.
//!
//! Trees: `users` (name → [`StoredUser`]), `sessions` (SHA-256 of the token, hex →
//! [`StoredSession`]: the token itself is never stored), `audit` (time ms ‖ sequence, both
//! big-endian, so a range scan from a time is in order → [`StoredAudit`]).

use grid_proto::access::{AuditEntry, Role};
use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

use super::{Result, SCHEMA, Store, StoreError, db, to_json, tx_err};

/// Audit entries kept; beyond it the oldest go.
const MAX_AUDIT: usize = 100_000;
/// How often (in appends) the audit log's length is checked against [`MAX_AUDIT`].
const AUDIT_CHECK_EVERY: u64 = 256;

/// A user as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredUser {
    /// Format version of this record.
    pub schema: u32,
    /// The argon2 PHC string of the password.
    pub hash: String,
    /// Records from before roles existed were the one admin.
    #[serde(default = "legacy_role")]
    pub role: Role,
    /// The user still has a password they were given; unknown (`None`) in records from
    /// before forced changes, which the registry settles once at start.
    #[serde(default)]
    pub must_change: Option<bool>,
}

/// The role of a user stored before roles existed: there was one user, the admin.
fn legacy_role() -> Role {
    Role::Admin
}

impl StoredUser {
    /// A new record.
    pub fn new(hash: String, role: Role, must_change: bool) -> Self {
        Self {
            schema: SCHEMA,
            hash,
            role,
            must_change: Some(must_change),
        }
    }
}

/// A session as persisted, under the hash of its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    /// Format version of this record.
    pub schema: u32,
    /// Whose.
    pub user: String,
    /// Opened from.
    pub peer: String,
    /// Opened, ms since the epoch.
    pub created_ms: u64,
    /// Expires, ms since the epoch.
    pub expires_ms: u64,
}

#[derive(Serialize, Deserialize)]
struct StoredAudit {
    schema: u32,
    #[serde(flatten)]
    entry: AuditEntry,
}

fn read<T: serde::de::DeserializeOwned>(tree: &'static str, v: &[u8]) -> Result<T> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt(tree, e))
}

fn key_string(tree: &'static str, k: &[u8]) -> Result<String> {
    String::from_utf8(k.to_vec())
        .map_err(|e| StoreError::Corrupt(tree, serde::de::Error::custom(format!("key: {e}"))))
}

impl Store {
    /// Every user.
    pub fn users(&self) -> Result<Vec<(String, StoredUser)>> {
        self.users
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(db("reading users"))?;
                Ok((key_string("users", &k)?, read("users", &v)?))
            })
            .collect()
    }

    /// Is there any user?
    pub fn has_users(&self) -> bool {
        !self.users.is_empty()
    }

    /// Stores a user and, in the same transaction, ends the sessions `revoked` (a password
    /// change ends the user's other sessions with it).
    pub async fn put_user(&self, name: &str, user: &StoredUser, revoked: &[String]) -> Result<()> {
        let value = to_json(user);
        (&self.users, &self.sessions)
            .transaction(|(users, sessions)| {
                users.insert(name.as_bytes(), value.as_slice())?;
                for s in revoked {
                    sessions.remove(s.as_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err("storing a user"))?;
        self.flush().await
    }

    /// Removes a user and their sessions, in one transaction.
    pub async fn remove_user(&self, name: &str, sessions_of: &[String]) -> Result<()> {
        (&self.users, &self.sessions)
            .transaction(|(users, sessions)| {
                users.remove(name.as_bytes())?;
                for s in sessions_of {
                    sessions.remove(s.as_bytes())?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err("removing a user"))?;
        self.flush().await
    }

    /// Every stored session, by token hash.
    pub fn sessions(&self) -> Result<Vec<(String, StoredSession)>> {
        self.sessions
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(db("reading sessions"))?;
                Ok((key_string("sessions", &k)?, read("sessions", &v)?))
            })
            .collect()
    }

    /// Stores a session under its token's hash.
    pub async fn put_session(&self, hash: &str, session: &StoredSession) -> Result<()> {
        self.sessions
            .insert(hash.as_bytes(), to_json(session))
            .map_err(db("storing a session"))?;
        self.flush().await
    }

    /// Ends sessions by token hash.
    pub async fn remove_sessions(&self, hashes: &[String]) -> Result<()> {
        let mut batch = sled::Batch::default();
        for h in hashes {
            batch.remove(h.as_bytes());
        }
        self.sessions
            .apply_batch(batch)
            .map_err(db("removing sessions"))?;
        self.flush().await
    }

    /// Appends to the audit log (its `seq` is assigned here); the entry as stored.
    pub async fn append_audit(&self, mut entry: AuditEntry) -> Result<AuditEntry> {
        entry.seq = self
            .db
            .generate_id()
            .map_err(db("numbering an audit entry"))?;
        let mut key = entry.at_ms.to_be_bytes().to_vec();
        key.extend_from_slice(&entry.seq.to_be_bytes());
        let stored = StoredAudit {
            schema: SCHEMA,
            entry,
        };
        self.audit
            .insert(key, to_json(&stored))
            .map_err(db("storing an audit entry"))?;
        if stored.entry.seq.is_multiple_of(AUDIT_CHECK_EVERY) {
            self.trim_audit(MAX_AUDIT)?;
        }
        self.flush().await?;
        Ok(stored.entry)
    }

    /// Drops the oldest audit entries beyond `keep`.
    fn trim_audit(&self, keep: usize) -> Result<()> {
        let excess = self.audit.len().saturating_sub(keep);
        let mut batch = sled::Batch::default();
        for kv in self.audit.iter().keys().take(excess) {
            batch.remove(kv.map_err(db("trimming the audit log"))?);
        }
        self.audit
            .apply_batch(batch)
            .map_err(db("trimming the audit log"))
    }

    /// Audit entries at or after `since_ms`, oldest first, at most `limit` of the newest.
    pub fn audit_since(&self, since_ms: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let mut newest_first = Vec::new();
        for kv in self.audit.range(since_ms.to_be_bytes().to_vec()..).rev() {
            if newest_first.len() >= limit {
                break;
            }
            let (_, v) = kv.map_err(db("reading the audit log"))?;
            newest_first.push(read::<StoredAudit>("audit", &v)?.entry);
        }
        newest_first.reverse();
        Ok(newest_first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_ms: u64, action: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at_ms,
            user: "admin".into(),
            peer: "127.0.0.1".into(),
            action: action.into(),
            status: 200,
            result: "ok".into(),
        }
    }

    #[tokio::test]
    async fn users_sessions_and_audit_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let user = StoredUser::new("$argon2id$x".into(), Role::Operator, true);
        let session = StoredSession {
            schema: SCHEMA,
            user: "bob".into(),
            peer: "10.0.0.1".into(),
            created_ms: 1,
            expires_ms: 2,
        };
        store.put_session("h1", &session).await.unwrap();
        store.put_session("h2", &session).await.unwrap();
        store.put_user("bob", &user, &["h1".into()]).await.unwrap();
        assert_eq!(store.users().unwrap(), vec![("bob".into(), user)]);
        assert_eq!(store.sessions().unwrap(), vec![("h2".into(), session)]);
        store.remove_user("bob", &["h2".into()]).await.unwrap();
        assert!(store.users().unwrap().is_empty());
        assert!(store.sessions().unwrap().is_empty());

        for (t, a) in [(10, "a"), (20, "b"), (20, "c"), (30, "d")] {
            store.append_audit(entry(t, a)).await.unwrap();
        }
        let actions = |v: Vec<AuditEntry>| v.into_iter().map(|e| e.action).collect::<Vec<_>>();
        assert_eq!(
            actions(store.audit_since(20, 100).unwrap()),
            ["b", "c", "d"]
        );
        assert_eq!(actions(store.audit_since(0, 2).unwrap()), ["c", "d"]);
        store.trim_audit(1).unwrap();
        assert_eq!(actions(store.audit_since(0, 100).unwrap()), ["d"]);
    }

    #[test]
    fn a_user_record_from_before_roles_is_an_admin() {
        let old: StoredUser = serde_json::from_str(r#"{"schema":1,"hash":"h"}"#).unwrap();
        assert_eq!((old.role, old.must_change), (Role::Admin, None));
    }
}
