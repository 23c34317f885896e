//! The registry's state and the operations that keep its invariants.
//!
//! [`Model`] is the one owner of the deployed applications, their derived index, the persisted
//! flags, the nodes, the servers' runtime and the event stream. Every durable change is one
//! method (deploy, update or remove an application, change a server's flags) that validates,
//! writes the store, updates the live view and publishes its event; readers see the model
//! through [`Model::view`], which hands out no way to mutate it.
//!
//! One `std::sync::Mutex` guards the live view; it is never held across an `.await`. Durable
//! changes are also serialised by an async writer lock, held until their nodes have the new
//! server sets, so nodes receive them in serial order.

mod deploy;
mod error;
mod events;
mod index;
mod locate;
mod nodes;
mod servers;
mod views;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use grid_proto::api::{Event, ServerRuntime};
use grid_proto::metrics::prometheus_client::metrics::counter::Counter;
use tokio::sync::{Notify, OwnedMutexGuard, broadcast};

use crate::store::{ServerFlags, Store};

pub use error::ModelError;
pub use locate::{Located, OnDemand};

use deploy::Deployed;
use index::Index;
use nodes::NodeEntry;

/// The live view: what is deployed, what the nodes report, and the persisted flags' mirror.
#[derive(Debug, Default)]
pub struct Live {
    apps: BTreeMap<String, Deployed>,
    index: Index,
    flags: HashMap<String, ServerFlags>,
    nodes: BTreeMap<String, NodeEntry>,
    runtime: HashMap<String, ServerRuntime>,
    assignment_serial: u64,
    cursors: HashMap<String, usize>,
}

impl Live {
    /// Is the node up?
    pub fn node_up(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|n| n.up)
    }

    /// A server's flags.
    fn flags_of(&self, server: &str) -> ServerFlags {
        self.flags.get(server).copied().unwrap_or_default()
    }

    /// Forgets the flags and runtime of servers that are no longer deployed.
    fn forget_servers(&mut self, ids: &[String]) {
        for id in ids {
            self.flags.remove(id);
            self.runtime.remove(id);
        }
    }
}

/// A read-only look at the live view, holding its lock until dropped.
#[derive(Debug)]
pub struct View<'a>(MutexGuard<'a, Live>);

impl Deref for View<'_> {
    type Target = Live;

    fn deref(&self) -> &Live {
        &self.0
    }
}

/// The nodes whose server set a durable change altered; the change's writer lock is held until
/// this is dropped, once the sets are pushed.
#[must_use = "the nodes must be sent their new server sets"]
#[derive(Debug)]
pub struct Push {
    nodes: BTreeSet<String>,
    _writer: Option<OwnedMutexGuard<()>>,
}

impl Push {
    fn new(nodes: BTreeSet<String>, writer: OwnedMutexGuard<()>) -> Self {
        Self {
            nodes,
            _writer: Some(writer),
        }
    }

    fn none() -> Self {
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

    fn live(&self) -> MutexGuard<'_, Live> {
        // A poisoned lock means a thread panicked mid-update; the model is still usable.
        self.inner.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Taken by every durable change, for its whole duration.
    async fn writer(&self) -> OwnedMutexGuard<()> {
        self.inner.writer.clone().lock_owned().await
    }

    fn store(&self) -> &Store {
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

    fn publish(&self, kind: grid_proto::api::EventKind) {
        self.inner.events.publish(kind);
    }

    fn notify_changed(&self) {
        self.inner.changed.notify_waiters();
    }

    /// Waits until `cond` holds on the live view, or `timeout` passes; returns whether it held.
    async fn wait_for(&self, timeout: Duration, mut cond: impl FnMut(&Live) -> bool) -> bool {
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
