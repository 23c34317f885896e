//! `media-server`: the Spotifice MediaServer.
//!
//! For now it joins the grid as a real server: it binds port 0 on its node's host, serves its
//! health and library summary, reports its adapter endpoint to the node, and stops cleanly on
//! SIGTERM. The track library, the chunk protocol and live channels grow beside these modules.
//!
//! - [`cli`]: the command line.
//! - [`grid`]: listening, readiness, logging and stop signal inside the grid.
//! - [`library`]: the track library on disk.

pub mod cli;
pub mod library;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use grid_proto::api::ErrorBody;
use grid_proto::server_env::ServerEnv;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tracing::{info, warn};

/// The id used when the process was not started by a node.
pub const DEFAULT_ID: &str = "MediaServer";
/// `GET` liveness: [`Health`].
pub const HEALTH: &str = "/v1/health";
/// `GET` what this server serves: [`Info`].
pub const INFO: &str = "/v1/info";

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
}

impl ServerConfig {
    /// From the command line and the node's environment (if any).
    pub fn new(cli: &cli::Cli, grid: Option<ServerEnv>) -> Self {
        Self {
            id: grid
                .as_ref()
                .map_or_else(|| DEFAULT_ID.to_owned(), |g| g.id.clone()),
            library: cli.library.clone(),
            grid,
            addr_file: cli.addr_file.clone(),
        }
    }
}

/// The handlers' shared state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Server id.
    pub id: String,
    /// The track library directory.
    pub library: PathBuf,
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
}

/// The HTTP API, without a socket (tests drive it with `oneshot`).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(HEALTH, get(health))
        .route(INFO, get(info))
        .fallback(not_found)
        .with_state(Arc::new(state))
}

async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        server: state.id.clone(),
    })
}

async fn info(State(state): State<Arc<AppState>>) -> Json<Info> {
    let dir = state.library.clone();
    let tracks = tokio::task::spawn_blocking(move || library::count_tracks(&dir))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0);
    Json(Info {
        server: state.id.clone(),
        kind: "media-server".into(),
        library: state.library.display().to_string(),
        tracks,
    })
}

async fn not_found(uri: Uri) -> (StatusCode, Json<ErrorBody>) {
    (
        StatusCode::NOT_FOUND,
        Json(ErrorBody {
            error: format!("no such route: {}", uri.path()),
            detail: None,
        }),
    )
}

/// Serves on `listener` until `shutdown` completes (with the reason for the stop line), after
/// reporting ready to the node when a node started this process. Fails when the report fails, so
/// the node restarts the server.
pub async fn run(
    config: ServerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = &'static str> + Send + 'static,
) -> anyhow::Result<()> {
    let bound = listener.local_addr().context("reading the bound address")?;
    let url = grid_proto::server_env::endpoint(bound, config.grid.as_ref());
    if let Some(path) = &config.addr_file {
        grid_proto::write_atomic(path, bound.to_string().as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let tracks = library::count_tracks(&config.library).unwrap_or_else(|e| {
        warn!(
            "library {} cannot be read ({e}); serving 0 tracks",
            config.library.display()
        );
        0
    });
    info!(
        "{} listening on {url}, library {} ({tracks} tracks)",
        config.id,
        config.library.display()
    );

    let id = config.id.clone();
    let router = app(AppState {
        id: config.id.clone(),
        library: config.library.clone(),
    });
    let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
        let why = shutdown.await;
        info!("{id} stopping ({why})");
    });
    grid_proto::server_env::serve_as_member(config.grid.as_ref(), &url, serve.into_future()).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
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

    fn state(library: PathBuf) -> AppState {
        AppState {
            id: "MediaServer-1".into(),
            library,
        }
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
    async fn info_counts_the_library() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("one.mp3"), b"1").unwrap();
        std::fs::write(dir.path().join("two.mp3"), b"2").unwrap();
        let (status, info) = get_json::<Info>(app(state(dir.path().to_path_buf())), INFO).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(info.server, "MediaServer-1");
        assert_eq!(info.kind, "media-server");
        assert_eq!(info.library, dir.path().display().to_string());
        assert_eq!(info.tracks, 2);
    }

    #[tokio::test]
    async fn a_missing_library_has_no_tracks() {
        let dir = tempfile::tempdir().unwrap();
        let (_, info) = get_json::<Info>(app(state(dir.path().join("nope"))), INFO).await;
        assert_eq!(info.tracks, 0);
    }

    #[tokio::test]
    async fn unknown_routes_answer_a_json_404() {
        let (status, body) = get_json::<ErrorBody>(app(state("media".into())), "/v1/nope").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.error.contains("/v1/nope"), "{}", body.error);
    }
}
