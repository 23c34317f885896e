//! `gridregistry`: the single source of truth of a Spotifice Grid.
//!
//! - [`store`]: applications, users, flags and the cluster secret in sled.
//! - [`model`]: the one owner of the registry's state (applications, flags, nodes, server
//!   runtime, events); every change is one of its operations, refused with a `ModelError`.
//! - [`state`]: what handlers and tasks share (the model, sessions, tunables, node clients).
//! - [`api`]: the HTTP/JSON API (admin, nodes, locator, events); handlers parse, call the model
//!   and answer, and `api::error` maps every error to its status in one place.
//! - [`node_link`]: calls to the nodes; [`liveness`]: marks silent nodes down.
//! - [`auth`]: users and roles, sessions, login throttling.
//! - [`metrics`]: the counters of `GET /metrics` and the gauges read from the model.

pub mod api;
pub mod auth;
pub mod cli;
pub mod console;
pub mod liveness;
pub mod metrics;
pub mod model;
pub mod node_link;
pub mod state;
pub mod store;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

pub use api::app;

/// How long open connections (event streams, say) get to end at the stop.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// What `run` needs.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Database directory.
    pub data: PathBuf,
    /// Where to write the bound address.
    pub addr_file: Option<PathBuf>,
    /// Heartbeat interval handed to nodes.
    pub heartbeat: Duration,
    /// Silence after which a node is down.
    pub node_timeout: Duration,
    /// The bounds on clients.
    pub limits: grid_proto::serve::Limits,
    /// The largest request body accepted, in bytes.
    pub max_body: usize,
    /// Serve HTTPS with a certificate of the grid CA.
    pub tls: bool,
}

impl From<&cli::Cli> for RegistryConfig {
    fn from(c: &cli::Cli) -> Self {
        Self {
            data: c.data.clone(),
            addr_file: c.addr_file.clone(),
            heartbeat: Duration::from_millis(c.heartbeat_ms.max(10)),
            node_timeout: Duration::from_millis(c.node_timeout_ms.max(50)),
            limits: c.limits.limits(STOP_GRACE),
            max_body: usize::try_from(c.max_body).unwrap_or(usize::MAX),
            tls: c.tls,
        }
    }
}

/// Opens the store and serves until `shutdown` completes.
pub async fn run(
    config: RegistryConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr().context("reading the bound address")?;
    // The database holds the cluster secret and the users' password hashes.
    let loosened = grid_proto::private::dir(&config.data)
        .with_context(|| format!("creating {}", config.data.display()))?;
    if !loosened.is_empty() {
        tracing::warn!("{}", grid_proto::private::report(&loosened));
    }
    let store = store::Store::open(&config.data)
        .with_context(|| format!("opening the database in {}", config.data.display()))?;
    // The files the database just created, where the process's umask let them be looser.
    grid_proto::private::dir(&config.data)
        .with_context(|| format!("protecting {}", config.data.display()))?;
    let secret = store.cluster_secret(|| auth::random_hex(32)).await?;
    let secret_file = config.data.join("cluster.secret");
    if std::fs::read_to_string(&secret_file).ok().as_deref() != Some(secret.as_str()) {
        grid_proto::write_atomic(&secret_file, secret.as_bytes())
            .with_context(|| format!("writing {}", secret_file.display()))?;
    }
    let auth = auth::Auth::open(store.clone()).await?;
    let (ca, tls) = if config.tls {
        let (ca, tls) = tls_config(&config.data, addr)?;
        (Some(ca), Some(tls))
    } else {
        (None, None)
    };
    let token = CancellationToken::new();
    let settings = state::Settings {
        heartbeat: config.heartbeat,
        node_timeout: config.node_timeout,
        listen: addr.to_string(),
        data_dir: config.data.display().to_string(),
        max_body: config.max_body,
        ca,
    };
    let state = state::AppState::new(store.clone(), auth, settings, secret, token.clone())?;
    if let Some(path) = &config.addr_file {
        grid_proto::write_atomic(path, addr.to_string().as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let tracker = TaskTracker::new();
    let forward = token.clone();
    tracker.spawn(async move {
        tokio::select! {
            () = shutdown => forward.cancel(),
            () = forward.cancelled() => {}
        }
    });
    tracker.spawn(liveness::run(state.clone(), token.clone()));
    {
        let live = state.model().view();
        let scheme = if config.tls { "https" } else { "http" };
        info!(%addr, %scheme, data = %config.data.display(), applications = live.application_count(), servers = live.server_count(), "registry listening");
    }
    grid_proto::serve::serve_with(
        listener,
        app(state.clone()),
        config.limits,
        tls,
        token.clone().cancelled_owned(),
    )
    .await
    .context("serving the API")?;
    token.cancel();
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(5), tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!("background tasks did not stop in time");
    }
    store.flush().await.context("final flush")?;
    info!("registry stopped");
    Ok(())
}

/// The grid CA of `data` (made there on first start), which this process's clients (the calls
/// to the nodes) trust from now on, and a fresh certificate of it for this registry: for the
/// address it listens on, and for loopback by name and address.
fn tls_config(
    data: &std::path::Path,
    addr: std::net::SocketAddr,
) -> anyhow::Result<(
    std::sync::Arc<grid_proto::tls::Ca>,
    std::sync::Arc<grid_proto::tls::ServerConfig>,
)> {
    use grid_proto::tls;
    let ca = tls::Ca::open_or_create(data).context("opening the grid CA")?;
    tls::trust(ca.cert_pem().to_owned()).context("trusting the grid CA")?;
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !addr.ip().is_unspecified() {
        names.push(addr.ip().to_string());
    }
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        names.push(host.trim().to_owned());
    }
    names.dedup();
    let identity = ca
        .issue(&names)
        .context("issuing the registry's certificate")?;
    info!(
        ca = %data.join(tls::CA_CERT_FILE).display(),
        fingerprint = %tls::fingerprint(ca.cert_pem()).unwrap_or_default(),
        "TLS on: clients trust the grid CA"
    );
    let config = tls::server_config(&identity, ca.cert_pem())?;
    Ok((std::sync::Arc::new(ca), config))
}
