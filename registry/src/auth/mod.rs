//! Users and their roles, sessions, and logins.
//!
//! [`Auth`] is the one owner of the users and the sessions: it keeps both in memory, for the
//! check every request makes, and writes every change through to the store before answering.
//! Passwords are stored as argon2 hashes. Verifying one costs tens of milliseconds on purpose,
//! so after a successful verification the registry remembers, in memory only, a SHA-256 of the
//! password keyed with a random per-process key: a repeat login with the same password is then
//! a hash compare. A wrong password always pays the full argon2 price, and nothing of the cache
//! ever reaches the disk.

mod sessions;
pub mod throttle;
mod users;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use grid_proto::access::Role;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::{Store, StoredSession, StoredUser};
use sessions::Sessions;
pub use sessions::{public_id, token_hash};
use throttle::{Failed, Throttle};
pub use users::{UserError, article};

/// How long a session token lives.
pub const SESSION_TTL: Duration = Duration::from_secs(3600);
/// The password of the account a new registry creates when `GRID_ADMIN_PASSWORD` is not set;
/// whoever logs in with it is made to change it.
pub const DEFAULT_PASSWORD: &str = "admin";

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password (deliberately the same message).
    #[error("wrong user name or password")]
    Denied,
    /// Too many failures of this user from this address (or of this address): the attempt
    /// was not checked.
    #[error(
        "too many failed logins as '{user}' from {peer}: try again in {} s ({} failures are allowed, then each attempt waits twice as long as the last)",
        retry_after_s,
        throttle::FREE_FAILURES
    )]
    Throttled {
        user: String,
        peer: IpAddr,
        /// Whole seconds, rounded up: a client waiting this long is let in.
        retry_after_s: u64,
    },
    /// The store or the hasher failed.
    #[error("{0}")]
    Internal(String),
}

/// A session opened by a login.
#[derive(Clone)]
pub struct Opened {
    /// The bearer token (shown once, never stored).
    pub token: String,
    /// The user must choose a new password.
    pub must_change_password: bool,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("must_change_password", &self.must_change_password)
            .finish_non_exhaustive()
    }
}

/// Who is asking, from a live session.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: String,
    /// Their role now (a role change applies to open sessions at once).
    pub role: Role,
    /// The session's token hash.
    pub session: String,
    /// The user still has a password they were given.
    pub must_change_password: bool,
}

/// Users, sessions, the verification cache and the login throttle.
#[derive(Debug)]
pub struct Auth {
    store: Store,
    key: [u8; 32],
    users: RwLock<HashMap<String, StoredUser>>,
    sessions: Sessions,
    verified: Mutex<HashMap<String, [u8; 32]>>,
    throttle: Throttle,
    /// Serialises user changes, so "the last admin" is checked and changed as one step.
    changes: tokio::sync::Mutex<()>,
}

/// Random bytes as hex.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The argon2id hasher for new hashes: OWASP's m = 46 MiB, t = 1 profile (as strong as the crate's
/// default m = 19 MiB, t = 2). Its working memory is above glibc's 32 MiB mmap-threshold cap, so it
/// is always mapped and unmapped on free: a smaller block lands in a malloc arena after the first
/// verification and stays resident (it tripled the registry's RSS at rest). Stored hashes carry
/// their own parameters, so older ones still verify.
fn hasher() -> Result<Argon2<'static>, AuthError> {
    let params =
        argon2::Params::new(47_104, 1, 1, None).map_err(|e| AuthError::Internal(e.to_string()))?;
    Ok(Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params,
    ))
}

/// Hashes a password for storage.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Internal(e.to_string()))?;
    hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Internal(e.to_string()))
}

/// Argon2 runs at once at most: each takes 46 MiB, so a flood of logins queues here instead
/// of growing the registry by gigabytes.
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Checks `password` against a stored hash (or, for an unknown user, spends the same time so
/// timing does not reveal names), off the async threads.
async fn verify(hash: Option<String>, password: &str) -> Result<bool, AuthError> {
    let _permit = HASHING.acquire().await.map_err(internal)?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || match hash {
        Some(h) => PasswordHash::new(&h).is_ok_and(|p| {
            Argon2::default()
                .verify_password(password.as_bytes(), &p)
                .is_ok()
        }),
        None => {
            let _ = hash_password(&password);
            false
        }
    })
    .await
    .map_err(|e| AuthError::Internal(e.to_string()))
}

/// Hashes off the async threads.
async fn hash_blocking(password: &str) -> Result<String, AuthError> {
    let _permit = HASHING.acquire().await.map_err(internal)?;
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?
}

fn internal(e: impl std::fmt::Display) -> AuthError {
    AuthError::Internal(e.to_string())
}

impl Auth {
    /// Loads users and sessions from `store` (forgetting expired sessions) and, on a first
    /// start, creates the `admin` user: with `GRID_ADMIN_PASSWORD` when set, else with
    /// [`DEFAULT_PASSWORD`], which must be changed at first login.
    pub async fn open(store: Store) -> anyhow::Result<Self> {
        let now = grid_proto::now_ms();
        let (sessions, expired) = Sessions::loaded(store.sessions()?, now);
        if !expired.is_empty() {
            store.remove_sessions(&expired).await?;
        }
        let users = store.users()?.into_iter().collect();
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let auth = Self {
            store,
            key,
            users: RwLock::new(users),
            sessions,
            verified: Mutex::default(),
            throttle: Throttle::default(),
            changes: tokio::sync::Mutex::new(()),
        };
        auth.ensure_default_user().await?;
        auth.settle_must_change().await?;
        Ok(auth)
    }

    /// Users from a database older than forced password changes: one still on
    /// [`DEFAULT_PASSWORD`] must change it, the others need not. Checked once, then stored.
    async fn settle_must_change(&self) -> anyhow::Result<()> {
        let unknown: Vec<(String, StoredUser)> = self
            .read_users()
            .iter()
            .filter(|(_, u)| u.must_change.is_none())
            .map(|(n, u)| (n.clone(), u.clone()))
            .collect();
        for (name, mut user) in unknown {
            let default = verify(Some(user.hash.clone()), DEFAULT_PASSWORD).await?;
            user.must_change = Some(default);
            self.store.put_user(&name, &user, &[]).await?;
            if default {
                tracing::warn!(user = %name, "still has the default password: it must be changed at the next login");
            }
            self.write_users().insert(name, user);
        }
        Ok(())
    }

    async fn ensure_default_user(&self) -> anyhow::Result<()> {
        if !self.read_users().is_empty() {
            return Ok(());
        }
        let (password, from_env) = match std::env::var("GRID_ADMIN_PASSWORD") {
            Ok(p) if !p.is_empty() => (p, true),
            _ => (DEFAULT_PASSWORD.to_owned(), false),
        };
        let user = StoredUser::new(hash_blocking(&password).await?, Role::Admin, !from_env);
        self.store.put_user("admin", &user, &[]).await?;
        self.write_users().insert("admin".into(), user);
        if from_env {
            tracing::info!(
                user = "admin",
                "created the admin user with the password from GRID_ADMIN_PASSWORD"
            );
        } else {
            tracing::warn!(
                user = "admin",
                "created the default user admin with password 'admin': it must be changed at first login (or set GRID_ADMIN_PASSWORD before the first start)"
            );
        }
        Ok(())
    }

    fn read_users(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, StoredUser>> {
        self.users.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_users(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, StoredUser>> {
        self.users.write().unwrap_or_else(|p| p.into_inner())
    }

    /// What the verification cache keeps for a good password: bound to the stored hash it
    /// was checked against, so a check that finishes after a password change (and puts its
    /// entry back) matches nothing.
    fn fingerprint(&self, user: &str, hash: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(user.as_bytes());
        h.update([0]);
        h.update(hash.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Checks `password` for `user` (the verification cache first); counts a failure against
    /// the throttle.
    async fn check_password(
        &self,
        user: &str,
        password: &str,
        peer: IpAddr,
    ) -> Result<bool, AuthError> {
        let hash = self.read_users().get(user).map(|u| u.hash.clone());
        let fp = self.fingerprint(user, hash.as_deref().unwrap_or_default(), password);
        let cached = hash.is_some()
            && self
                .verified
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(user)
                .is_some_and(|c| grid_proto::secret::eq(c, &fp));
        if cached {
            return Ok(true);
        }
        if !verify(hash, password).await? {
            if let Failed::Delayed(d) = self.throttle.failed(user, peer) {
                tracing::warn!(%user, %peer, delay_s = d.as_secs(), "logins held back after repeated failures");
            }
            return Ok(false);
        }
        self.verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(user.to_owned(), fp);
        Ok(true)
    }

    /// The throttle's answer for `user` from `peer`: an error while they must wait (or while
    /// another check of theirs is in flight); else the check, held until it is done.
    fn held(&self, user: &str, peer: IpAddr) -> Result<throttle::Checking<'_>, AuthError> {
        let busy = || AuthError::Throttled {
            user: user.to_owned(),
            peer,
            retry_after_s: 1,
        };
        match self.throttle.wait(user, peer) {
            None => self.throttle.begin(user, peer).ok_or_else(busy),
            Some(wait) => {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Err(AuthError::Throttled {
                    user: user.to_owned(),
                    peer,
                    retry_after_s: secs.max(1),
                })
            }
        }
    }

    /// Checks a user's password, tried from `peer`, and opens a session. A user and address
    /// that keep failing are made to wait ([`throttle`]), without their attempts being checked
    /// meanwhile.
    pub async fn login(
        &self,
        user: &str,
        password: &str,
        peer: IpAddr,
    ) -> Result<Opened, AuthError> {
        let checking = self.held(user, peer)?;
        let good = self.check_password(user, password, peer).await?;
        drop(checking);
        if !good {
            return Err(AuthError::Denied);
        }
        self.throttle.succeeded(user, peer);
        let must_change = self
            .read_users()
            .get(user)
            .is_some_and(|u| u.must_change == Some(true));
        let now = grid_proto::now_ms();
        let expired = self.sessions.expired(now);
        if !expired.is_empty() {
            self.sessions.remove(&expired);
            self.store
                .remove_sessions(&expired)
                .await
                .map_err(internal)?;
        }
        let token = random_hex(24);
        let hash = token_hash(&token);
        let session = StoredSession {
            schema: 1,
            user: user.to_owned(),
            peer: peer.to_string(),
            created_ms: now,
            expires_ms: now + SESSION_TTL.as_millis() as u64,
        };
        self.store
            .put_session(&hash, &session)
            .await
            .map_err(internal)?;
        self.sessions.insert(hash, session);
        Ok(Opened {
            token,
            must_change_password: must_change,
        })
    }

    /// Who holds `token`, if it is a live session of a user who still exists.
    pub fn caller(&self, token: &str) -> Option<Caller> {
        let hash = token_hash(token);
        let session = self.sessions.get(&hash, grid_proto::now_ms())?;
        let users = self.read_users();
        let user = users.get(&session.user)?;
        Some(Caller {
            role: user.role,
            must_change_password: user.must_change == Some(true),
            user: session.user,
            session: hash,
        })
    }

    /// Sessions open now.
    pub fn sessions(&self) -> usize {
        self.sessions
            .counts(grid_proto::now_ms())
            .values()
            .sum::<usize>()
    }

    /// Ends a session (a console's logout); unknown tokens are ignored.
    pub async fn logout(&self, token: &str) -> Result<(), AuthError> {
        let hash = vec![token_hash(token)];
        self.sessions.remove(&hash);
        self.store.remove_sessions(&hash).await.map_err(internal)
    }

    /// The CSRF token of session `token`: what a page of that session sends back with each
    /// change it asks for. Derived from the token, which only that session's cookie holds, so
    /// a page elsewhere cannot make it, and it outlives a registry restart as the session does.
    pub fn csrf_token(&self, token: &str) -> String {
        let mut h = Sha256::new();
        h.update(b"csrf\0");
        h.update(token.as_bytes());
        hex::encode(h.finalize())
    }
}

#[cfg(test)]
mod tests;
