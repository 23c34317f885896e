//! Persistence: the only module that names sled.
//!
//! Trees: `applications` (name → [`StoredApplication`]), `flags` (server id →
//! [`ServerFlags`]), `meta` (cluster secret, assignment serial), and, in [`access`], `users`,
//! `sessions` and `audit`.
//! Values are JSON with a `schema` field. Every change that spans trees is one transaction, and
//! every write is flushed before the API answers, so an acknowledged change survives `kill -9`.

mod access;

use std::path::Path;

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

pub use access::{StoredSession, StoredUser};

const SCHEMA: u32 = 1;
const KEY_SECRET: &[u8] = b"cluster_secret";
const KEY_SERIAL: &[u8] = b"assignment_serial";

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed.
    #[error("database error while {0}: {1}")]
    Db(&'static str, #[source] sled::Error),
    /// Another process holds the database.
    #[error("the database in {0} is in use by another gridregistry")]
    InUse(String),
    /// A stored value could not be read back.
    #[error("corrupt value in {0}: {1}")]
    Corrupt(&'static str, #[source] serde_json::Error),
}

type Result<T> = std::result::Result<T, StoreError>;

/// An application as persisted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredApplication {
    /// Format version of this record.
    pub schema: u32,
    /// Name.
    pub name: String,
    /// The descriptor text as submitted.
    pub source: String,
    /// Grows with every update.
    pub serial: u64,
    /// Last change, ms since the epoch.
    pub updated_ms: u64,
}

/// Persisted per-server flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFlags {
    /// Format version of this record.
    pub schema: u32,
    /// Disabled servers are never started.
    pub enabled: bool,
    /// Stopped by an admin: stays stopped until started.
    pub stopped: bool,
}

impl Default for ServerFlags {
    fn default() -> Self {
        Self {
            schema: SCHEMA,
            enabled: true,
            stopped: false,
        }
    }
}

/// The registry's database.
#[derive(Debug, Clone)]
pub struct Store {
    db: sled::Db,
    applications: sled::Tree,
    users: sled::Tree,
    sessions: sled::Tree,
    audit: sled::Tree,
    flags: sled::Tree,
    meta: sled::Tree,
}

fn db(what: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |e| StoreError::Db(what, e)
}

fn tx_err(what: &'static str) -> impl FnOnce(TransactionError<()>) -> StoreError {
    move |e| match e {
        TransactionError::Storage(e) => StoreError::Db(what, e),
        TransactionError::Abort(()) => {
            StoreError::Db(what, sled::Error::Unsupported("transaction aborted".into()))
        }
    }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    // Serialising our own plain structs cannot fail.
    serde_json::to_vec(v).unwrap_or_default()
}

impl Store {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        // A small cache keeps the registry's resident memory low; the data set is tiny.
        let sled_db = sled::Config::new()
            .path(dir)
            .cache_capacity(1 << 20)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::Other
                        && io.to_string().contains("lock") =>
                {
                    StoreError::InUse(dir.display().to_string())
                }
                e => StoreError::Db("opening the database", e),
            })?;
        let tree = |name: &str| sled_db.open_tree(name).map_err(db("opening a tree"));
        Ok(Self {
            applications: tree("applications")?,
            users: tree("users")?,
            sessions: tree("sessions")?,
            audit: tree("audit")?,
            flags: tree("flags")?,
            meta: tree("meta")?,
            db: sled_db,
        })
    }

    /// Writes everything to disk.
    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await.map_err(db("flushing"))?;
        Ok(())
    }

    /// Every application.
    pub fn applications(&self) -> Result<Vec<StoredApplication>> {
        self.applications
            .iter()
            .values()
            .map(|v| {
                let v = v.map_err(db("reading applications"))?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt("applications", e))
            })
            .collect()
    }

    /// Every server's flags.
    pub fn flags(&self) -> Result<Vec<(String, ServerFlags)>> {
        self.flags
            .iter()
            .map(|kv| {
                let (k, v) = kv.map_err(db("reading flags"))?;
                let flags =
                    serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt("flags", e))?;
                Ok((String::from_utf8_lossy(&k).into_owned(), flags))
            })
            .collect()
    }

    /// The assignment serial.
    pub fn assignment_serial(&self) -> Result<u64> {
        Ok(self
            .meta
            .get(KEY_SERIAL)
            .map_err(db("reading the serial"))?
            .and_then(|v| v.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0))
    }

    /// Stores (or replaces) an application, removes the flags of servers that left it, and
    /// bumps the assignment serial, atomically.
    pub async fn put_application(
        &self,
        app: &StoredApplication,
        dropped_servers: &[String],
        serial: u64,
    ) -> Result<()> {
        let value = to_json(app);
        let what = "storing an application";
        self.write_application(&app.name, Some(&value), dropped_servers, serial, what)
            .await
    }

    /// Removes an application and its servers' flags, and bumps the serial, atomically.
    pub async fn remove_application(
        &self,
        name: &str,
        servers: &[String],
        serial: u64,
    ) -> Result<()> {
        let what = "removing an application";
        self.write_application(name, None, servers, serial, what)
            .await
    }

    /// One transaction, then a flush: the application `name` set to `value` (none: removed),
    /// the flags of `servers` removed, the serial set. `what` names it in an error.
    async fn write_application(
        &self,
        name: &str,
        value: Option<&[u8]>,
        servers: &[String],
        serial: u64,
        what: &'static str,
    ) -> Result<()> {
        (&self.applications, &self.flags, &self.meta)
            .transaction(|(apps, flags, meta)| {
                match value {
                    Some(v) => apps.insert(name.as_bytes(), v)?,
                    None => apps.remove(name.as_bytes())?,
                };
                for s in servers {
                    flags.remove(s.as_bytes())?;
                }
                meta.insert(KEY_SERIAL, &serial.to_be_bytes())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err(what))?;
        self.flush().await
    }

    /// Stores a server's flags and bumps the serial, atomically.
    pub async fn put_flags(&self, server: &str, flags: ServerFlags, serial: u64) -> Result<()> {
        let value = to_json(&flags);
        (&self.flags, &self.meta)
            .transaction(|(f, meta)| {
                f.insert(server.as_bytes(), value.as_slice())?;
                meta.insert(KEY_SERIAL, &serial.to_be_bytes())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .map_err(tx_err("storing server flags"))?;
        self.flush().await
    }

    /// The cluster secret, created on first use.
    pub async fn cluster_secret(&self, generate: impl FnOnce() -> String) -> Result<String> {
        if let Some(v) = self
            .meta
            .get(KEY_SECRET)
            .map_err(db("reading the cluster secret"))?
        {
            return Ok(String::from_utf8_lossy(&v).into_owned());
        }
        let secret = generate();
        self.meta
            .insert(KEY_SECRET, secret.as_bytes())
            .map_err(db("storing the cluster secret"))?;
        self.flush().await?;
        Ok(secret)
    }
}

/// A new application record.
pub fn new_application(name: &str, source: &str, serial: u64) -> StoredApplication {
    StoredApplication {
        schema: SCHEMA,
        name: name.to_owned(),
        source: source.to_owned(),
        serial,
        updated_ms: grid_proto::now_ms(),
    }
}

/// Flags with a change applied.
pub fn flags_with(
    mut flags: ServerFlags,
    enabled: Option<bool>,
    stopped: Option<bool>,
) -> ServerFlags {
    flags.schema = SCHEMA;
    if let Some(e) = enabled {
        flags.enabled = e;
    }
    if let Some(s) = stopped {
        flags.stopped = s;
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .put_application(&new_application("A", "name = \"A\"", 1), &[], 7)
                .await
                .unwrap();
            store
                .put_flags("S", flags_with(ServerFlags::default(), None, Some(true)), 8)
                .await
                .unwrap();
            assert_eq!(store.cluster_secret(|| "s1".into()).await.unwrap(), "s1");
        }
        // sled's flusher thread lets go of the file lock shortly after the drop.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let store = loop {
            match Store::open(dir.path()) {
                Ok(s) => break s,
                Err(e) if std::time::Instant::now() < deadline => {
                    assert!(e.to_string().contains("in use"), "{e}");
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(store.applications().unwrap()[0].name, "A");
        assert_eq!(store.assignment_serial().unwrap(), 8);
        assert!(store.flags().unwrap()[0].1.stopped);
        assert_eq!(store.cluster_secret(|| "other".into()).await.unwrap(), "s1");
        store
            .remove_application("A", &["S".into()], 9)
            .await
            .unwrap();
        assert!(store.applications().unwrap().is_empty());
        assert!(store.flags().unwrap().is_empty());
    }
}
