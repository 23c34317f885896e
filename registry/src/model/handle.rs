//! The model's handle: the live view behind its lock, the writer lock, the event stream.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use grid_proto::api::Event;
use grid_proto::metrics::prometheus_client::metrics::counter::Counter;
use tokio::sync::{Notify, OwnedMutexGuard, broadcast};

use super::error::ModelError;
use super::events;
use super::index::Deployed;
use super::live::{Live, View};
use super::locate::{Located, OnDemand, Target};
use crate::store::Store;

/// The nodes whose server set a durable change altered; the change's writer lock is held until
/// this is dropped, once the sets are pushed.
#[must_use = "the nodes must be sent their new server sets"]
#[derive(Debug)]
pub struct Push {
    nodes: BTreeSet<String>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl Push {
    pub(super) fn new(nodes: BTreeSet<String>, writer: OwnedMutexGuard<()>) -> Self {
        Self {
            nodes,
            _writer: Some(writer),
        }
    }

    pub(super) fn none() -> Self {
        Self {
            nodes: BTreeSet::new(),
            _writer: None,
        }
    }

    /// The nodes to send their server set.
    pub fn nodes(&self) -> &BTreeSet<String> {
        &self.nodes
    }
}

/// The registry's state; cheap to clone, every clone is the same model.
#[derive(Debug, Clone)]
pub struct Model {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    live: Mutex<Live>,
    writer: Arc<tokio::sync::Mutex<()>>,
    events: events::Events,
    /// Woken on every runtime change, for callers waiting on a state (on-demand locate).
    changed: Notify,
}

impl Model {
    /// Loads the applications, flags and serial from the store; `published` counts events.
    pub fn load(store: Store, published: Counter) -> Result<Self, ModelError> {
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
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                live: Mutex::new(live),
                writer: Arc::new(tokio::sync::Mutex::new(())),
                events: events::Events::new(published),
                changed: Notify::new(),
            }),
        })
    }

    /// A read-only look at the live view. Do not hold it across an `.await`.
    pub fn view(&self) -> View<'_> {
        View(self.live())
    }

    pub(super) fn live(&self) -> MutexGuard<'_, Live> {
        // A poisoned lock means a thread panicked mid-update; the model is still usable.
        self.inner.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Taken by every durable change, for its whole duration.
    pub(super) async fn writer(&self) -> OwnedMutexGuard<()> {
        self.inner.writer.clone().lock_owned().await
    }

    pub(super) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Subscribes to events, and returns the serial of the last one published before.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Event>>, u64) {
        self.inner.events.subscribe()
    }

    /// The serial of the last event.
    pub fn event_serial(&self) -> u64 {
        self.inner.events.serial()
    }

    /// Clients subscribed to the event stream.
    pub fn subscribers(&self) -> usize {
        self.inner.events.receivers()
    }

    pub(super) fn publish(&self, kind: grid_proto::api::EventKind) {
        self.inner.events.publish(kind);
    }

    pub(super) fn notify_changed(&self) {
        self.inner.changed.notify_waiters();
    }

    /// Waits until `cond` holds on the live view, or `timeout` passes; returns whether it held.
    pub(super) async fn wait_for(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&Live) -> bool,
    ) -> bool {
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

    /// Resolves an adapter or replica-group id to its live endpoints.
    pub fn locate(&self, id: &str) -> Result<Located, ModelError> {
        let mut live = self.live();
        let (target, endpoints) = live
            .resolve(id)
            .ok_or_else(|| ModelError::UnknownLocate(id.to_owned()))?;
        let on_demand = if endpoints.is_empty() {
            live.on_demand_candidate(id, target)
        } else {
            None
        };
        let kind = match target {
            Target::Adapter => "adapter",
            Target::Group => "replica-group",
        };
        Ok(Located {
            kind,
            endpoints,
            on_demand,
        })
    }

    /// Waits until an on-demand server started for a locate is live.
    pub async fn wait_live(&self, started: &OnDemand) -> Result<(), ModelError> {
        let server = &started.server;
        if self
            .wait_for(started.timeout, |live| live.server_live(server))
            .await
        {
            Ok(())
        } else {
            Err(ModelError::ActivationTimeout(server.clone()))
        }
    }
}
