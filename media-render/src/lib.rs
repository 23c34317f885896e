//! `media-render`: the Spotifice MediaRender, a player controlled over HTTP.
//!
//! It locates a MediaServer of its replica group through the registry (or takes `--server`
//! endpoints), follows the MediaRender flow (`load_track` → `get_track_info` → `open_stream`; `play`
//! → fetch until the empty chunk → `track_exhausted`), decodes and paces the audio to its sink,
//! and fails over to another replica at the byte offset it holds without losing a byte.
//!
//! - [`cli`]: the command line.
//! - [`api`]: the HTTP control API and `/listen`.
//! - [`player`]: the player task that owns the state; [`error`]: how its refusals read.
//! - [`locate`]: where the MediaServers are; [`mediaserver`]: calls to them.
//! - [`fetch`]: pulls a track into the [`buffer`], with failover.
//! - [`channel`]: plays a live channel to the sink as it arrives, with failover.
//! - `retry`: the servers a task tries in turn, the backoff, and a failover's gap.
//! - [`pacer`]: the decoding thread that releases bytes in real time to the [`sink`].
//! - [`events`]: events posted to the node for the registry's stream.
//! - [`metrics`]: `GET /metrics` (Prometheus, OpenMetrics text).

pub mod api;
pub mod buffer;
pub mod channel;
pub mod cli;
pub mod control_auth;
pub mod error;
pub mod events;
pub mod fetch;
pub mod locate;
pub mod mediaserver;
pub mod metrics;
pub mod pacer;
pub mod player;
mod retry;
pub mod sink;

use std::future::Future;
use std::path::PathBuf;

use anyhow::{Context, bail};
use grid_proto::server_env::ServerEnv;
use tokio::net::TcpListener;
use tracing::info;

use crate::cli::FetchMode;
use crate::player::PlayerConfig;

/// The id used when the process was not started by a node.
pub const DEFAULT_ID: &str = "MediaRender";
/// The largest piece a MediaServer serves (1 MiB).
const MAX_CHUNK: usize = 1 << 20;

/// What [`run`] needs.
#[derive(Debug, Clone)]
pub struct RenderConfig {
    /// Server id (`MediaRender-1`), also the render id on the wire.
    pub id: String,
    /// The registry's URL, to locate MediaServers.
    pub registry: Option<String>,
    /// The MediaServers' replica group.
    pub group: String,
    /// Static MediaServer endpoints (`--server`), instead of locating.
    pub servers: Vec<String>,
    /// `--sink`.
    pub sink: String,
    /// Read-ahead in ms of audio.
    pub buffer_ms: u64,
    /// Playback speed (0 = unpaced).
    pub speed: f64,
    /// Fetch piece size.
    pub chunk: usize,
    /// Stream or chunk.
    pub fetch: FetchMode,
    /// The node's environment, when a node started this process.
    pub grid: Option<ServerEnv>,
    /// Where to write the bound address.
    pub addr_file: Option<PathBuf>,
    /// The bounds on the API's clients.
    pub limits: grid_proto::serve::Limits,
}

impl RenderConfig {
    /// From the command line and the node's environment (if any); refuses values that make no
    /// sense, naming the flag.
    pub fn new(cli: &cli::Cli, grid: Option<ServerEnv>) -> anyhow::Result<Self> {
        if !cli.speed.is_finite() || cli.speed < 0.0 {
            bail!(
                "--speed {} must be a number >= 0 (1 = real time, 0 = unpaced)",
                cli.speed
            );
        }
        if cli.chunk == 0 || cli.chunk > MAX_CHUNK {
            bail!(
                "--chunk {} must be between 1 and {MAX_CHUNK} bytes",
                cli.chunk
            );
        }
        for s in &cli.servers {
            if !(s.starts_with("http://") || s.starts_with("https://")) {
                bail!("--server '{s}' is not an http:// URL");
            }
        }
        sink::Sink::parse(&cli.sink).map_err(anyhow::Error::msg)?;
        Ok(Self {
            id: grid
                .as_ref()
                .map_or_else(|| DEFAULT_ID.to_owned(), |g| g.id.clone()),
            registry: cli.registry.clone(),
            group: cli.group.clone(),
            servers: cli.servers.clone(),
            sink: cli.sink.clone(),
            buffer_ms: cli.buffer_ms,
            speed: cli.speed,
            chunk: cli.chunk,
            fetch: cli.fetch,
            grid,
            addr_file: cli.addr_file.clone(),
            // Every answer is short.
            limits: cli.limits.limits(std::time::Duration::from_secs(1)),
        })
    }
}

/// Serves on `listener` until `shutdown` completes (with the reason for the stop line), after
/// reporting ready to the node when a node started this process. Fails when the report fails, so
/// the node restarts the render.
pub async fn run(
    config: RenderConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = &'static str> + Send + 'static,
) -> anyhow::Result<()> {
    let bound = listener.local_addr().context("reading the bound address")?;
    let url = grid_proto::server_env::endpoint(bound, config.grid.as_ref());
    if let Some(path) = &config.addr_file {
        grid_proto::write_atomic(path, bound.to_string().as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let source = if config.servers.is_empty() {
        format!(
            "{} via registry {}",
            config.group,
            config.registry.as_deref().unwrap_or("(not set)")
        )
    } else {
        config.servers.join(", ")
    };
    info!(
        "{} listening on {url}; MediaServers: {source}; sink {}, buffer {} ms, speed {}, fetch {} ({} bytes)",
        config.id,
        config.sink,
        config.buffer_ms,
        config.speed,
        config.fetch.as_str(),
        config.chunk
    );

    // The token MediaServers want for this render's stream, made from the key its node gave.
    let stream_token = config.grid.as_ref().and_then(|g| {
        let key = g.service_key.as_deref()?;
        Some(grid_proto::secret::token(
            key,
            grid_proto::secret::Purpose::Stream,
            &config.id,
        ))
    });
    let client = mediaserver::MediaClient::new()
        .context("building the HTTP client")?
        .with_stream_token(stream_token);
    let locator = locate::Locator::new(config.registry.as_deref(), &config.group, &config.servers);
    let events = events::Events::new(config.grid.as_ref(), client.http().clone());
    let client_http = client.http().clone();
    let sink = sink::Sink::parse(&config.sink).map_err(anyhow::Error::msg)?;
    let metrics = std::sync::Arc::new(metrics::RenderMetrics::default());
    let player = player::spawn(
        PlayerConfig {
            render: config.id.clone(),
            group: config.group.clone(),
            speed: config.speed,
            buffer_ms: config.buffer_ms,
            chunk: config.chunk,
            fetch: config.fetch,
            metrics: std::sync::Arc::clone(&metrics),
        },
        client,
        locator,
        events,
        sink,
    );
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let control = control_auth::ControlAuth::new(
        &config.id,
        config.grid.as_ref().and_then(|g| g.service_key.clone()),
        config.registry.clone(),
        client_http,
    );
    let router = api::app(api::AppState {
        id: config.id.clone(),
        player: player.clone(),
        stopping,
        metrics,
        control,
    });
    let id = config.id.clone();
    let serve = grid_proto::serve::serve(listener, router, config.limits, async move {
        let why = shutdown.await;
        info!("{id} stopping ({why})");
        let _ = stopping_tx.send(true);
        player.shutdown().await;
    });
    grid_proto::server_env::serve_as_member(config.grid.as_ref(), &url, serve).await
}
