//! What every handler and background task holds: the model, admin sessions, the tunables and
//! the client pool for calls to the nodes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::Auth;
use crate::metrics::RegistryMetrics;
use crate::model::Model;
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
    /// The largest request body accepted, in bytes.
    pub max_body: usize,
    /// The grid CA, when the registry speaks TLS: it signs the nodes' certificates.
    pub ca: Option<Arc<grid_proto::tls::Ca>>,
}

/// The handle every handler and background task holds.
#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    model: Model,
    store: Store,
    auth: Auth,
    settings: Settings,
    secret: String,
    service_key: String,
    started: Instant,
    token: tokio_util::sync::CancellationToken,
    nodes_client: grid_proto::client::Client,
    gateway_client: reqwest::Client,
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
        let metrics = RegistryMetrics::default();
        let model = Model::load(store.clone(), metrics.published_counter())?;
        let nodes_client = grid_proto::client::Client::with_timeout(
            "http://127.0.0.1",
            "node",
            Duration::from_secs(30),
        )?
        .secret(&secret)?;
        let gateway_client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                model,
                store,
                auth,
                settings,
                service_key: grid_proto::secret::service_key(&secret),
                secret,
                started: Instant::now(),
                token,
                nodes_client,
                gateway_client,
                metrics,
            }),
        })
    }

    /// The registry's state and its operations.
    pub fn model(&self) -> &Model {
        &self.inner.model
    }

    /// Cancelled when the registry shuts down.
    pub fn shutdown_token(&self) -> &tokio_util::sync::CancellationToken {
        &self.inner.token
    }

    /// The store, for the users `auth` checks.
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

    /// The service key the servers' tokens are made with (from the cluster secret).
    pub fn service_key(&self) -> &str {
        &self.inner.service_key
    }

    /// The counters and histograms of `GET /metrics`.
    pub fn metrics(&self) -> &RegistryMetrics {
        &self.inner.metrics
    }

    /// Seconds since start.
    pub fn uptime(&self) -> Duration {
        self.inner.started.elapsed()
    }

    /// The client the gateway forwards requests with.
    pub fn gateway_client(&self) -> &reqwest::Client {
        &self.inner.gateway_client
    }

    /// A client for one node's API, sharing one connection pool.
    pub fn node_client(&self, node: &str, endpoint: &str) -> grid_proto::client::Client {
        self.inner
            .nodes_client
            .for_base(endpoint, &format!("node {node}"))
    }
}
