//! The registry's shared state: the store, the deployed applications with their derived index,
//! the live view rebuilt from the nodes (liveness, load, server runtime), sessions and events.
//!
//! One `std::sync::Mutex` guards the live model; it is never held across an `.await`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use grid_proto::api::{Event, EventKind};
use tokio::sync::{Notify, broadcast};

use crate::auth::Auth;
use crate::metrics::RegistryMetrics;
use crate::model::{Deployed, Live};
use crate::store::Store;

/// Tunables.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Heartbeat interval handed to nodes.
    pub heartbeat: Duration,
    /// A node silent this long is down.
    pub node_timeout: Duration,
    /// The address the API listens on (for `registry show`).
    pub listen: String,
    /// The data directory (for `registry show`).
    pub data_dir: String,
}

/// The handle every handler and background task holds.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    live: Mutex<Live>,
    auth: Auth,
    settings: Settings,
    secret: String,
    events: broadcast::Sender<Arc<Event>>,
    event_serial: Mutex<u64>,
    /// Woken on every runtime change, for callers waiting on a state (on-demand locate).
    changed: Notify,
    started: Instant,
    /// Serialises changes to applications and flags (store commit + live update + push).
    writer: tokio::sync::Mutex<()>,
    token: tokio_util::sync::CancellationToken,
    nodes_client: grid_proto::client::Client,
    metrics: RegistryMetrics,
}

impl AppState {
    /// Builds the state from the store.
    pub fn new(
        store: Store,
        auth: Auth,
        settings: Settings,
        secret: String,
        token: tokio_util::sync::CancellationToken,
    ) -> anyhow::Result<Self> {
        let mut live = Live {
            assignment_serial: store.assignment_serial()?,
            ..Default::default()
        };
        for stored in store.applications()? {
            let name = stored.name.clone();
            match Deployed::from_stored(stored) {
                Ok(d) => {
                    live.apps.insert(name, d);
                }
                // Validated before it was stored; a failure here means a newer format on disk.
                Err(e) => {
                    tracing::error!(application = %name, cause = %e, "stored application cannot be read; skipped")
                }
            }
        }
        live.flags = store.flags()?.into_iter().collect();
        live.reindex();
        let (events, _) = broadcast::channel(1024);
        let nodes_client = grid_proto::client::Client::with_timeout(
            "http://127.0.0.1",
            "node",
            Duration::from_secs(30),
        )?
        .secret(&secret)?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                live: Mutex::new(live),
                auth,
                settings,
                secret,
                events,
                event_serial: Mutex::new(0),
                changed: Notify::new(),
                started: Instant::now(),
                writer: tokio::sync::Mutex::new(()),
                token,
                nodes_client,
                metrics: RegistryMetrics::default(),
            }),
        })
    }

    /// Taken by every change to applications or flags, for its whole duration.
    pub async fn writer(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.inner.writer.lock().await
    }

    /// Cancelled when the registry shuts down.
    pub fn shutdown_token(&self) -> &tokio_util::sync::CancellationToken {
        &self.inner.token
    }

    /// Locks the live model.
    pub fn live(&self) -> MutexGuard<'_, Live> {
        // A poisoned lock means a handler panicked mid-update; the model is still usable.
        self.inner.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Users and sessions.
    pub fn auth(&self) -> &Auth {
        &self.inner.auth
    }

    /// Tunables.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The cluster secret.
    pub fn secret(&self) -> &str {
        &self.inner.secret
    }

    /// The counters and histograms of `GET /metrics`.
    pub fn metrics(&self) -> &RegistryMetrics {
        &self.inner.metrics
    }

    /// Clients subscribed to the event stream.
    pub fn subscribers(&self) -> usize {
        self.inner.events.receiver_count()
    }

    /// Seconds since start.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// A client for one node's API, sharing one connection pool.
    pub fn node_client(&self, node: &str, endpoint: &str) -> grid_proto::client::Client {
        self.inner
            .nodes_client
            .for_base(endpoint, &format!("node {node}"))
    }

    /// Publishes an event to every subscriber.
    pub fn publish(&self, kind: EventKind) {
        let mut serial = self
            .inner
            .event_serial
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *serial += 1;
        self.inner.metrics.published();
        // Sent under the lock so subscribers see serials in order; send never blocks.
        let _ = self.inner.events.send(Arc::new(Event {
            serial: *serial,
            time_ms: grid_proto::now_ms(),
            kind,
        }));
    }

    /// Subscribes to events, and returns the serial of the last one published before.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Event>>, u64) {
        let serial = self
            .inner
            .event_serial
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        (self.inner.events.subscribe(), *serial)
    }

    /// The serial of the last event.
    pub fn event_serial(&self) -> u64 {
        *self
            .inner
            .event_serial
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes whoever waits on a runtime change.
    pub fn notify_changed(&self) {
        self.inner.changed.notify_waiters();
    }

    /// Waits until `cond` holds on the live model, or `timeout` passes; returns whether it held.
    pub async fn wait_for(&self, timeout: Duration, mut cond: impl FnMut(&Live) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if cond(&self.live()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return cond(&self.live());
            }
        }
    }
}
