//! `media-server`: the Spotifice MediaServer.
//!
//! It scans its library folder at start and on rescan (SIGHUP or the API), serves the tracks'
//! info and audio (with HTTP Range), and per-render streams, as chunks or as one streamed body,
//! and broadcasts live channels (ICY or plain HTTP). It joins the grid as a real server: it
//! reports its adapter endpoint to the node and stops cleanly on SIGTERM.
//!
//! - [`channels`]: the live channel routes (stats, the slow path of `/live/NAME`, the control
//!   port's info).
//! - [`cli`]: the command line.
//! - [`error`]: the error answers.
//! - [`front`]: the accept loop: live listeners taken over, the rest handed to the HTTP stack.
//! - [`library`]: the scan of the library folder and its snapshot.
//! - [`live`]: live channels (playlists, relays, UDP ingest), their listeners and the control
//!   port.
//! - [`metrics`]: `GET /metrics` (Prometheus, OpenMetrics text).
//! - [`mpeg`]: MPEG frame headers (VBR or not), frame alignment, silent frames.
//! - [`params`]: route placeholders.
//! - [`pieces`]: file ranges read as body pieces.
//! - [`state`]: the handlers' shared state, and the library's rescan.
//! - [`stream_table`]: the open streams, one per render, and their reaping.
//! - [`streams`]: the stream routes (chunks, `/data`).
//! - [`tracks`]: the track routes.

mod accept;
pub mod channels;
pub mod cli;
pub mod error;
pub mod front;
pub mod library;
pub mod live;
pub mod metrics;
pub mod mpeg;
pub mod params;
pub mod pieces;
pub mod state;
pub mod stream_table;
pub mod streams;
pub mod tracks;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::{Method, Uri};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use grid_proto::paths;
use grid_proto::server_env::ServerEnv;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::error::ApiError;
use crate::state::{AppState, SharedState, rescan};

/// The id used when the process was not started by a node.
pub const DEFAULT_ID: &str = "MediaServer";
/// `GET` liveness: [`Health`].
pub const HEALTH: &str = "/v1/health";
/// `GET` what this server serves: [`Info`].
pub const INFO: &str = "/v1/info";
/// How long open connections (a paused render's `/data` body, say) may delay a stop.
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// What [`run`] needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Server id (`MediaServer-1`).
    pub id: String,
    /// The track library directory.
    pub library: PathBuf,
    /// The node's environment, when a node started this process.
    pub grid: Option<ServerEnv>,
    /// Where to write the bound address.
    pub addr_file: Option<PathBuf>,
    /// Streams untouched this long are reaped.
    pub stream_idle: Duration,
    /// At most this many open streams.
    pub max_streams: usize,
    /// The `--channels` file.
    pub channels: Option<PathBuf>,
    /// The live distributor's tick.
    pub live_tick: Duration,
    /// The registry, to locate `grid:` relay upstreams.
    pub registry: Option<String>,
    /// The URL others reach this server at, if not the bound address.
    pub advertise: Option<String>,
    /// The control port (`HOST:PORT` or a port on the HTTP listener's host).
    pub control: Option<String>,
    /// Where to write the control port's address.
    pub control_addr_file: Option<PathBuf>,
    /// At most this many control connections.
    pub control_max_clients: usize,
    /// The bounds on HTTP clients (live listeners are the channels' own).
    pub limits: grid_proto::serve::Limits,
}

impl ServerConfig {
    /// From the command line and the node's environment (if any).
    pub fn new(cli: &cli::Cli, grid: Option<ServerEnv>) -> Self {
        let registry = cli
            .registry
            .clone()
            .or_else(|| grid.as_ref().and_then(|g| g.registry_url.clone()));
        Self {
            id: grid
                .as_ref()
                .map_or_else(|| DEFAULT_ID.to_owned(), |g| g.id.clone()),
            library: cli.library.clone(),
            grid,
            addr_file: cli.addr_file.clone(),
            stream_idle: Duration::from_millis(cli.stream_idle_ms),
            max_streams: usize::try_from(cli.max_streams).unwrap_or(usize::MAX),
            channels: cli.channels.clone(),
            live_tick: Duration::from_millis(cli.live_tick_ms),
            registry,
            advertise: cli.advertise.clone(),
            control: cli.control.clone(),
            control_addr_file: cli.control_addr_file.clone(),
            control_max_clients: usize::try_from(cli.control_max_clients).unwrap_or(usize::MAX),
            limits: cli.limits.limits(STOP_GRACE),
        }
    }
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok` while the server answers.
    pub status: String,
    /// Server id.
    pub server: String,
}

/// `GET /v1/info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// Server id.
    pub server: String,
    /// `media-server`.
    pub kind: String,
    /// The library directory, as configured.
    pub library: String,
    /// Tracks in it.
    pub tracks: usize,
    /// Streams open.
    #[serde(default)]
    pub streams: usize,
}

/// `POST /v1/library/rescan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rescanned {
    /// Tracks in the new snapshot.
    pub tracks: usize,
}

/// The HTTP API, without a socket (tests drive it with `oneshot`).
pub fn app(state: SharedState) -> Router {
    Router::new()
        .route(HEALTH, get(health))
        .route(INFO, get(info))
        .route(paths::MEDIA_TRACKS, get(tracks::tracks_list))
        .route(paths::MEDIA_TRACK, get(tracks::tracks_get))
        .route(paths::MEDIA_TRACK_AUDIO, get(tracks::tracks_audio))
        .route(paths::MEDIA_STREAMS, post(streams::streams_open))
        .route(paths::MEDIA_STREAM_CHUNK, get(streams::streams_chunk))
        .route(paths::MEDIA_STREAM_DATA, get(streams::streams_data))
        .route(paths::MEDIA_STREAM, delete(streams::streams_close))
        .route(paths::MEDIA_RESCAN, post(library_rescan))
        .route(paths::CHANNELS, get(channels::channels_list))
        .route(paths::CHANNEL, get(channels::channels_get))
        .route(paths::LIVE_CHANNEL, get(channels::live_via_http))
        .route(live::control::CONTROL, get(channels::control_info))
        .route(paths::METRICS, get(metrics::scrape))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn health(State(state): State<SharedState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        server: state.id.clone(),
    })
}

async fn info(State(state): State<SharedState>) -> Json<Info> {
    Json(Info {
        server: state.id.clone(),
        kind: "media-server".into(),
        library: state.library_dir.display().to_string(),
        tracks: state.snapshot().len(),
        streams: state.streams.len(),
    })
}

async fn library_rescan(State(state): State<SharedState>) -> Result<Json<Rescanned>, ApiError> {
    info!("rescan asked through the API");
    Ok(Json(Rescanned {
        tracks: rescan(&state).await?,
    }))
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no such route: {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not served at {}", uri.path()))
}

/// Rescans on every SIGHUP. Installed before the server reports its address, so a SIGHUP
/// from then on never meets the default action (terminate).
fn rescan_on_sighup(state: SharedState) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::hangup()) {
        Ok(mut hangups) => {
            tokio::spawn(async move {
                while hangups.recv().await.is_some() {
                    info!("SIGHUP: rescanning the library");
                    if let Err(e) = rescan(&state).await {
                        warn!("rescan failed: {e}");
                    }
                }
            });
        }
        Err(e) => warn!("cannot handle SIGHUP ({e}); rescans only through the API"),
    }
}

/// Serves on `listener` until `shutdown` completes (with the reason for the stop line), after
/// reporting ready to the node when a node started this process. Fails when the report fails, so
/// the node restarts the server.
pub async fn run(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = &'static str> + Send + 'static,
) -> anyhow::Result<()> {
    let channels = match &config.channels {
        Some(path) => live::config::load(path)?,
        None => Vec::new(),
    };
    let bound = listener.local_addr().context("reading the bound address")?;
    let url = match &config.advertise {
        Some(url) => {
            let url = url.trim_end_matches('/');
            if live::config::split_url(url).is_none_or(|(_, path)| path != "/") {
                anyhow::bail!("--advertise {url}: must be an http://HOST:PORT URL");
            }
            url.to_owned()
        }
        None => grid_proto::server_env::endpoint(bound, config.grid.as_ref()),
    };
    let mut state = AppState::new(
        config.id.clone(),
        config.library.clone(),
        config.stream_idle,
        config.max_streams,
    );
    state.live = Arc::new(live::Live::new(
        channels,
        config.live_tick,
        &url,
        config.registry.clone(),
    )?);
    let control = match &config.control {
        Some(spec) => Some(
            live::control::Control::bind(
                spec,
                bound.ip(),
                config.control_max_clients,
                Arc::clone(&state.live),
            )
            .await?,
        ),
        None => None,
    };
    state.control = control.as_ref().map(|(c, _)| Arc::clone(c));
    state.service_key = config.grid.as_ref().and_then(|g| g.service_key.clone());
    if state.service_key.is_none() {
        warn!(
            "no service key (not started by a node): any client may open, read or close a render's stream"
        );
    }
    let state = Arc::new(state);
    if let Err(e) = rescan(&state).await {
        warn!("{e}; serving 0 tracks until a rescan succeeds");
    }
    rescan_on_sighup(Arc::clone(&state));
    tokio::spawn(Arc::clone(&state.streams).reap_idle());
    state.live.start(state.library())?;
    // Before the address file: whoever waits for that one finds this one written.
    if let (Some(path), Some(control)) = (&config.control_addr_file, &state.control) {
        grid_proto::write_atomic(path, control.addr.to_string().as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &config.addr_file {
        grid_proto::write_atomic(path, bound.to_string().as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    info!(
        "{} listening on {url}, library {} ({} tracks), at most {} streams, reaped after {} ms idle, {} live channels",
        config.id,
        config.library.display(),
        state.snapshot().len(),
        config.max_streams,
        config.stream_idle.as_millis(),
        state.live.channels().len()
    );

    let id = config.id.clone();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        let state = Arc::clone(&state);
        async move {
            let why = shutdown.await;
            info!("{id} stopping ({why})");
            // Running bodies end as cut: their renders fail over now rather than at the kill.
            state.streams.close_all();
            state.live.close_all();
            stop.cancel();
        }
    });
    if let Some((control, listener)) = control {
        tokio::spawn(control.serve(listener, stop.clone()));
    }
    let serve = front::serve(
        listener,
        app(Arc::clone(&state)),
        Arc::clone(&state.live),
        stop,
        config.limits,
    );
    let serve = async move {
        serve.await;
        Ok::<(), std::io::Error>(())
    };
    grid_proto::server_env::serve_as_member(config.grid.as_ref(), &url, serve).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use grid_proto::api::ErrorBody;
    use tower::ServiceExt;

    use super::*;

    async fn get_json<T: serde::de::DeserializeOwned>(
        router: Router,
        path: &str,
    ) -> (StatusCode, T) {
        let response = router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    fn state(library: PathBuf) -> SharedState {
        Arc::new(AppState::new(
            "MediaServer-1".into(),
            library,
            Duration::from_secs(60),
            1024,
        ))
    }

    #[tokio::test]
    async fn health_names_the_server() {
        let (status, health) = get_json::<Health>(app(state("media".into())), HEALTH).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            health,
            Health {
                status: "ok".into(),
                server: "MediaServer-1".into()
            }
        );
    }

    #[tokio::test]
    async fn a_missing_library_has_no_tracks_and_a_rescan_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path().join("nope"));
        let err = rescan(&state).await.unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let (_, info) = get_json::<Info>(app(state), INFO).await;
        assert_eq!(info.tracks, 0);
        assert_eq!(info.kind, "media-server");
    }

    #[tokio::test]
    async fn unknown_routes_and_tracks_answer_a_json_404() {
        for path in [
            "/v1/nope",
            "/v1/tracks/0123456789abcdef",
            "/v1/tracks/..",
            "/v1/tracks/..%2F..%2Fetc%2Fpasswd/audio",
            "/v1/tracks/%2Fetc%2Fpasswd",
            "/v1/tracks/%2E%2E/audio",
            "/v1/streams/r1/chunk",
            "/v1/streams/r1/data",
            "/v1/tracks/%FF/audio",
            "/v1/tracks/%00",
            "/v1/streams/%FF/chunk",
        ] {
            let (status, body) = get_json::<ErrorBody>(app(state("media".into())), path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert!(!body.error.is_empty());
        }
    }

    #[tokio::test]
    async fn wrong_methods_answer_a_json_405() {
        let response = app(state("media".into()))
            .oneshot(
                Request::post(paths::MEDIA_TRACKS)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let error: ErrorBody = serde_json::from_slice(&bytes).unwrap();
        assert!(error.error.contains("POST"), "{}", error.error);
    }

    #[tokio::test]
    async fn bad_open_stream_bodies_are_400_and_unknown_tracks_404() {
        for (body, status) in [
            ("{", StatusCode::BAD_REQUEST),
            (r#"{"track_id": "x"}"#, StatusCode::BAD_REQUEST),
            (
                r#"{"track_id": "0123456789abcdef", "render_id": ""}"#,
                StatusCode::BAD_REQUEST,
            ),
            (
                r#"{"track_id": "0123456789abcdef", "render_id": "r"}"#,
                StatusCode::NOT_FOUND,
            ),
        ] {
            let response = app(state("media".into()))
                .oneshot(
                    Request::post(paths::MEDIA_STREAMS)
                        .body(Body::from(body))
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{body}");
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let error: ErrorBody = serde_json::from_slice(&bytes).unwrap();
            assert!(!error.error.is_empty());
        }
    }
}
