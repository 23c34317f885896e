//! `gridnode`: the Spotifice Grid node daemon.
//!
//! It registers with the registry ([`session`]), runs the servers it is assigned as child processes
//! in their own process groups ([`supervisor`]), keeps them alive by activation policy, and serves
//! the node API ([`api`]) the registry and the servers call, and `GET /metrics` ([`metrics`]).

pub mod api;
pub mod certificate;
pub mod cli;
pub mod config;
pub mod events;
pub mod host;
pub mod metrics;
pub mod session;
pub mod supervisor;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::OnStop;
use crate::config::Config;
use crate::supervisor::child::SpawnContext;
use crate::supervisor::logs::Rotator;
use crate::supervisor::{Settings, Supervisor};

/// Runs the node on `listener` until `shutdown` completes or the API asks it to stop; then stops
/// every server before returning (like an IceGrid node shutting down), unless `shutdown`
/// completed and the config says to leave the servers running.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let local = listener
        .local_addr()
        .context("cannot read the bound address")?;
    // An https:// registry means the whole grid speaks TLS: this node's API too.
    let tls = config.registry.starts_with("https://");
    let ca_pem = match &config.ca {
        Some(path) => {
            grid_proto::tls::trust_file(path).context("--ca")?;
            Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("--ca {}", path.display()))?,
            )
        }
        None => None,
    };
    let scheme = if tls { "https" } else { "http" };
    let endpoint = format!(
        "{scheme}://{}",
        SocketAddr::new(config.address, local.port())
    );
    let run_dir = config.data_dir.join("run");
    // Run files hold each server's readiness token; the cache holds descriptors.
    let loosened = grid_proto::private::dir(&run_dir)
        .and_then(|mut l| {
            l.extend(grid_proto::private::dir(&config.data_dir)?);
            Ok(l)
        })
        .with_context(|| format!("cannot create the data directory {}", run_dir.display()))?;
    if !loosened.is_empty() {
        tracing::warn!("{}", grid_proto::private::report(&loosened));
    }
    std::fs::create_dir_all(&config.work_dir).with_context(|| {
        format!(
            "cannot create the work directory {}",
            config.work_dir.display()
        )
    })?;
    if let Some(path) = &config.addr_file {
        supervisor::adopt::write_atomic(path, local.to_string().as_bytes())
            .with_context(|| format!("cannot write the address file {}", path.display()))?;
    }
    tracing::info!(node = %config.name, %endpoint, registry = %config.registry, "node listening");

    let metrics = Arc::new(metrics::NodeMetrics::default());
    let settings = Settings {
        spawn: SpawnContext {
            node_name: config.name.clone(),
            node_url: endpoint.clone(),
            address: config.address.to_string(),
            registry_url: config.registry.clone(),
            service_key: grid_proto::secret::service_key(&config.secret),
            ca_file: config.ca.clone(),
            work_dir: config.work_dir.clone(),
            exe_dir: std::env::current_exe()
                .ok()
                .and_then(|p| p.parent().map(|d| d.to_path_buf())),
            log_max_bytes: config.log_max_bytes,
            log_keep: config.log_keep,
        },
        run_dir,
        cache_file: config.data_dir.join("assignment.json"),
        backoff: config.backoff,
        metrics: Arc::clone(&metrics),
    };
    let rotator = Rotator::default();
    let cache = supervisor::load_cache(&settings.cache_file);
    let (sup, pushes) = Supervisor::spawn(config.name.clone(), settings, rotator.clone());
    // Before the registry answers, run what we ran last time: a node that boots without a
    // registry still starts its servers.
    if let Some(a) = cache {
        tracing::info!(serial = a.serial, "starting from the cached assignment");
        sup.apply(a, false).await?;
    }

    let stop = CancellationToken::new();
    let signalled = CancellationToken::new();
    let tasks = CancellationToken::new();
    tokio::spawn({
        let signalled = signalled.clone();
        async move {
            shutdown.await;
            signalled.cancel();
        }
    });
    let client = grid_proto::client::Client::with_timeout(
        &config.registry,
        "registry",
        session::CLIENT_TIMEOUT,
    )
    .and_then(|c| c.secret(&config.secret))
    .context("cannot build the registry client")?;
    let events = events::Forwarder::start(&config.name, client.clone(), tasks.clone());
    let session = session::Session::new(
        config.name.clone(),
        endpoint,
        config.address.to_string(),
        client.clone(),
        sup.clone(),
        pushes,
    );
    let session_task = tokio::spawn(session.run(tasks.clone()));
    tokio::spawn(rotator.run(config.log_max_bytes, config.log_keep, tasks.clone()));

    let server_tls = match (&ca_pem, tls) {
        (Some(ca), true) => {
            let identity = certificate::identity(
                &client,
                &config.name,
                config.address,
                &config.data_dir,
                &signalled,
            )
            .await?;
            Some(grid_proto::tls::server_config(&identity, ca)?)
        }
        _ => None,
    };
    let state = api::AppState {
        sup: sup.clone(),
        secret: Arc::from(config.secret.as_str()),
        shutdown: stop.clone(),
        events,
        metrics,
    };
    let server = tokio::spawn(grid_proto::serve::serve_with(
        listener,
        api::app(state),
        config.limits,
        server_tls,
        tasks.clone().cancelled_owned(),
    ));

    // A signal follows --on-stop; the API's shutdown is an explicit request to stop everything.
    let leave = tokio::select! {
        () = signalled.cancelled() => config.on_stop == OnStop::Leave,
        () = stop.cancelled() => false,
    };
    if leave {
        sup.detach().await?;
    } else {
        sup.shutdown().await?;
        tracing::info!("all servers stopped");
    }
    tasks.cancel();
    let _ = session_task.await;
    match server.await {
        Ok(r) => r.context("the node API failed")?,
        Err(e) => return Err(e).context("the node API task failed"),
    }
    tracing::info!("node stopped");
    Ok(())
}
