//! The registry's shared state: the store, the deployed applications with their derived index,
//! the live view rebuilt from the nodes (liveness, load, server runtime), sessions and events.
//!
//! One `std::sync::Mutex` guards the live model; it is never held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use grid_proto::api::{
    AdapterView, ApplicationSummary, AssignedServer, Assignment, Event, EventKind, HostInfo, Load,
    NodeView, ServerRuntime, ServerView,
};
use grid_proto::descriptor::{ApplicationDescriptor, ReplicaGroup, ServerDescriptor};
use tokio::sync::{Notify, broadcast};

use crate::auth::Auth;
use crate::metrics::RegistryMetrics;
use crate::store::{ServerFlags, Store, StoredApplication};

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

/// A deployed application with its expansion.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// What is stored.
    pub stored: StoredApplication,
    /// Replica groups by id.
    pub groups: BTreeMap<String, ReplicaGroup>,
    /// Expanded servers.
    pub servers: Vec<ServerDescriptor>,
}

impl Deployed {
    /// Parses and expands a stored application.
    pub fn from_stored(stored: StoredApplication) -> anyhow::Result<Self> {
        let desc = ApplicationDescriptor::parse(&stored.source)?;
        let expanded = desc.expand()?;
        Ok(Self {
            stored,
            groups: desc.replica_groups,
            servers: expanded.servers,
        })
    }
}

/// A node as the registry sees it.
#[derive(Debug, Clone)]
pub struct NodeEntry {
    /// Node API URL.
    pub endpoint: String,
    /// Node address.
    pub address: String,
    /// Host facts.
    pub host: HostInfo,
    /// Last load.
    pub load: Load,
    /// Last heartbeat.
    pub last_seen: Instant,
    /// Up or down.
    pub up: bool,
    /// Marked down: its next heartbeat is refused so it re-registers with its full state.
    pub needs_register: bool,
}

/// Where an adapter lives.
#[derive(Debug, Clone)]
pub struct AdapterRef {
    /// Server id.
    pub server: String,
    /// Replica group.
    pub group: Option<String>,
}

/// Lookups derived from the applications, rebuilt on every application change.
#[derive(Debug, Default)]
pub struct Index {
    /// Server id → (application, descriptor).
    pub servers: BTreeMap<String, ServerDescriptor>,
    /// Adapter id → owner.
    pub adapters: HashMap<String, AdapterRef>,
    /// Replica group id → (policy, member adapter ids in descriptor order).
    pub groups: HashMap<String, (ReplicaGroup, Vec<String>)>,
}

/// The live model.
#[derive(Debug, Default)]
pub struct Live {
    /// Deployed applications.
    pub apps: BTreeMap<String, Deployed>,
    /// Derived lookups.
    pub index: Index,
    /// Persisted flags (mirror of the store).
    pub flags: HashMap<String, ServerFlags>,
    /// Nodes.
    pub nodes: BTreeMap<String, NodeEntry>,
    /// Server id → runtime, as the nodes report it.
    pub runtime: HashMap<String, ServerRuntime>,
    /// Serial of the server set (persisted).
    pub assignment_serial: u64,
    /// Round-robin cursors per replica group.
    pub cursors: HashMap<String, usize>,
}

impl Live {
    /// Rebuilds [`Index`] from the applications.
    pub fn reindex(&mut self) {
        let mut index = Index::default();
        for app in self.apps.values() {
            for (id, g) in &app.groups {
                index.groups.insert(id.clone(), (g.clone(), Vec::new()));
            }
        }
        for app in self.apps.values() {
            for s in &app.servers {
                for a in &s.adapters {
                    index.adapters.insert(
                        a.id.clone(),
                        AdapterRef {
                            server: s.id.clone(),
                            group: a.replica_group.clone(),
                        },
                    );
                    if let Some(g) = &a.replica_group
                        && let Some((_, members)) = index.groups.get_mut(g)
                    {
                        members.push(a.id.clone());
                    }
                }
                index.servers.insert(s.id.clone(), s.clone());
            }
        }
        self.index = index;
    }

    /// Is the node up?
    pub fn node_up(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|n| n.up)
    }

    /// A server's flags.
    pub fn flags_of(&self, server: &str) -> ServerFlags {
        self.flags.get(server).copied().unwrap_or_default()
    }

    /// The server set of one node.
    pub fn assignment(&self, node: &str) -> Assignment {
        let servers = self
            .index
            .servers
            .values()
            .filter(|s| s.node == node)
            .map(|s| {
                let f = self.flags_of(&s.id);
                AssignedServer {
                    descriptor: s.clone(),
                    enabled: f.enabled,
                    stopped: f.stopped,
                }
            })
            .collect();
        Assignment {
            serial: self.assignment_serial,
            servers,
        }
    }

    /// The listing view of one server.
    pub fn server_view(&self, s: &ServerDescriptor) -> ServerView {
        let f = self.flags_of(&s.id);
        let runtime = self
            .runtime
            .get(&s.id)
            .cloned()
            .unwrap_or_else(|| ServerRuntime {
                id: s.id.clone(),
                ..Default::default()
            });
        ServerView {
            id: s.id.clone(),
            application: s.application.clone(),
            node: s.node.clone(),
            node_up: self.node_up(&s.node),
            activation: s.activation,
            enabled: f.enabled,
            stopped: f.stopped,
            runtime,
        }
    }

    /// Every server.
    pub fn server_views(&self) -> Vec<ServerView> {
        self.index
            .servers
            .values()
            .map(|s| self.server_view(s))
            .collect()
    }

    /// The listing view of one node.
    pub fn node_view(&self, name: &str, n: &NodeEntry) -> NodeView {
        NodeView {
            name: name.to_owned(),
            up: n.up,
            endpoint: n.endpoint.clone(),
            address: n.address.clone(),
            host: n.host.clone(),
            load: n.load,
            last_seen_ms_ago: n.last_seen.elapsed().as_millis() as u64,
            servers: self
                .index
                .servers
                .values()
                .filter(|s| s.node == name)
                .map(|s| s.id.clone())
                .collect(),
        }
    }

    /// Every node.
    pub fn node_views(&self) -> Vec<NodeView> {
        self.nodes
            .iter()
            .map(|(name, n)| self.node_view(name, n))
            .collect()
    }

    /// Every application.
    pub fn app_summaries(&self) -> Vec<ApplicationSummary> {
        self.apps
            .values()
            .map(|a| ApplicationSummary {
                name: a.stored.name.clone(),
                serial: a.stored.serial,
                servers: a.servers.len(),
                updated_ms: a.stored.updated_ms,
            })
            .collect()
    }

    /// The live endpoint of an adapter: its server is active and its node up.
    pub fn live_endpoint(&self, adapter: &str) -> Option<(String, String)> {
        let r = self.index.adapters.get(adapter)?;
        let s = self.index.servers.get(&r.server)?;
        if !self.node_up(&s.node) {
            return None;
        }
        let rt = self.runtime.get(&r.server)?;
        if rt.state != grid_proto::api::ServerState::Active {
            return None;
        }
        rt.endpoints
            .get(adapter)
            .map(|e| (r.server.clone(), e.clone()))
    }

    /// Is the server active on an up node with every adapter's endpoint known?
    pub fn live_endpoint_of_server(&self, server: &str) -> bool {
        self.index.servers.get(server).is_some_and(|s| {
            s.adapters
                .iter()
                .all(|a| self.live_endpoint(&a.id).is_some())
        }) && self
            .runtime
            .get(server)
            .is_some_and(|r| r.state == grid_proto::api::ServerState::Active)
    }

    /// Every adapter.
    pub fn adapter_views(&self) -> Vec<AdapterView> {
        let mut v: Vec<_> = self
            .index
            .adapters
            .iter()
            .filter_map(|(id, r)| {
                let s = self.index.servers.get(&r.server)?;
                Some(AdapterView {
                    id: id.clone(),
                    server: r.server.clone(),
                    node: s.node.clone(),
                    replica_group: r.group.clone(),
                    endpoint: self.live_endpoint(id).map(|(_, e)| e),
                })
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }
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
