//! Admin users, sessions and the cluster secret check.
//!
//! Passwords are stored as argon2 hashes. Verifying one costs tens of milliseconds on purpose, so
//! after a successful verification the registry remembers, in memory only, a SHA-256 of the
//! password keyed with a random per-process key: a repeat login with the same password is then a
//! hash compare. A wrong password always pays the full argon2 price, and nothing of the cache
//! ever reaches the disk.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::store::Store;

/// How long a session token lives.
pub const SESSION_TTL: Duration = Duration::from_secs(3600);

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user or wrong password (deliberately the same message).
    #[error("wrong user name or password")]
    Denied,
    /// The store or the hasher failed.
    #[error("{0}")]
    Internal(String),
}

/// Users, the verification cache and sessions.
#[derive(Debug)]
pub struct Auth {
    key: [u8; 32],
    verified: Mutex<HashMap<String, [u8; 32]>>,
    sessions: Mutex<HashMap<String, (String, Instant)>>,
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

impl Default for Auth {
    fn default() -> Self {
        Self::new()
    }
}

impl Auth {
    /// A fresh instance with a new cache key.
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self {
            key,
            verified: Mutex::default(),
            sessions: Mutex::default(),
        }
    }

    fn fingerprint(&self, user: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(user.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Creates the default user on first start. The password comes from `GRID_ADMIN_PASSWORD`
    /// when set, else it is `admin`, with a warning.
    pub async fn ensure_default_user(&self, store: &Store) -> anyhow::Result<()> {
        if store.has_users() {
            return Ok(());
        }
        let (password, from_env) = match std::env::var("GRID_ADMIN_PASSWORD") {
            Ok(p) if !p.is_empty() => (p, true),
            _ => ("admin".to_owned(), false),
        };
        let hash = tokio::task::spawn_blocking(move || hash_password(&password)).await??;
        store.put_user("admin", &hash).await?;
        if from_env {
            tracing::info!(
                user = "admin",
                "created the admin user with the password from GRID_ADMIN_PASSWORD"
            );
        } else {
            tracing::warn!(
                user = "admin",
                "created the default user admin with password 'admin': change it (set GRID_ADMIN_PASSWORD before the first start)"
            );
        }
        Ok(())
    }

    /// Checks a user's password and opens a session.
    pub async fn login(
        &self,
        store: &Store,
        user: &str,
        password: &str,
    ) -> Result<String, AuthError> {
        let fp = self.fingerprint(user, password);
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(user)
            .is_some_and(|c| grid_proto::secret::eq(c, &fp));
        if !cached {
            let hash = store
                .user_hash(user)
                .map_err(|e| AuthError::Internal(e.to_string()))?;
            let password = password.to_owned();
            let ok = tokio::task::spawn_blocking(move || match hash {
                Some(h) => PasswordHash::new(&h).is_ok_and(|p| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &p)
                        .is_ok()
                }),
                None => {
                    // Spend the same time on unknown users, so timing does not reveal names.
                    let _ = hash_password(&password);
                    false
                }
            })
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
            if !ok {
                return Err(AuthError::Denied);
            }
            self.verified
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(user.to_owned(), fp);
        }
        let token = random_hex(24);
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        sessions.retain(|_, (_, exp)| *exp > now);
        sessions.insert(token.clone(), (user.to_owned(), now + SESSION_TTL));
        Ok(token)
    }

    /// Sessions open now (expired ones are dropped at the next login).
    pub fn sessions(&self) -> usize {
        let now = Instant::now();
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|(_, exp)| *exp > now)
            .count()
    }

    /// Ends a session (a console's logout); unknown tokens are ignored.
    pub fn logout(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    /// The CSRF token of session `token`: what a page of that session sends back with each
    /// change it asks for. Derived with the registry's key, so a page elsewhere cannot make it.
    pub fn csrf_token(&self, token: &str) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(b"csrf\0");
        h.update(token.as_bytes());
        hex::encode(h.finalize())
    }

    /// The user of a live session.
    pub fn session_user(&self, token: &str) -> Option<String> {
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions
            .get(token)
            .filter(|(_, exp)| *exp > Instant::now())
            .map(|(u, _)| u.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn login_checks_the_hash_and_caches_only_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let auth = Auth::new();
        auth.ensure_default_user(&store).await.unwrap();
        let stored = store.user_hash("admin").unwrap().unwrap();
        assert!(stored.starts_with("$argon2"), "{stored}");
        assert!(!stored.contains("admin"));
        let t = auth.login(&store, "admin", "admin").await.unwrap();
        assert_eq!(auth.session_user(&t).as_deref(), Some("admin"));
        // Cached path.
        auth.login(&store, "admin", "admin").await.unwrap();
        assert!(matches!(
            auth.login(&store, "admin", "wrong").await,
            Err(AuthError::Denied)
        ));
        assert!(matches!(
            auth.login(&store, "nobody", "admin").await,
            Err(AuthError::Denied)
        ));
        assert_eq!(auth.session_user("nope"), None);
    }
}
