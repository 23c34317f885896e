//! `media-render`: the Spotifice MediaRender.
//!
//! For now it joins the grid as a real server: it binds port 0 on its node's host, serves its
//! health, reports its adapter endpoint to the node, and stops cleanly on SIGTERM. The player, its
//! control API and the failover between MediaServers grow beside these modules.
//!
//! - [`cli`]: the command line.
//! - [`grid`]: listening, readiness, logging and stop signal inside the grid.

pub mod cli;

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
use tracing::info;

/// The id used when the process was not started by a node.
pub const DEFAULT_ID: &str = "MediaRender";
/// `GET` liveness: [`Health`].
pub const HEALTH: &str = "/v1/health";

/// What [`run`] needs.
#[derive(Debug, Clone)]
pub struct RenderConfig {
    /// Server id (`MediaRender-1`).
    pub id: String,
    /// The registry's URL, to locate MediaServers.
    pub registry: Option<String>,
    /// The node's environment, when a node started this process.
    pub grid: Option<ServerEnv>,
    /// Where to write the bound address.
    pub addr_file: Option<PathBuf>,
}

impl RenderConfig {
    /// From the command line and the node's environment (if any).
    pub fn new(cli: &cli::Cli, grid: Option<ServerEnv>) -> Self {
        Self {
            id: grid
                .as_ref()
                .map_or_else(|| DEFAULT_ID.to_owned(), |g| g.id.clone()),
            registry: cli.registry.clone(),
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
}

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok` while the render answers.
    pub status: String,
    /// Server id.
    pub server: String,
}

/// The HTTP API, without a socket (tests drive it with `oneshot`).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(HEALTH, get(health))
        .fallback(not_found)
        .with_state(Arc::new(state))
}

async fn health(State(state): State<Arc<AppState>>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        server: state.id.clone(),
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
    info!(
        "{} listening on {url}, registry {}",
        config.id,
        config.registry.as_deref().unwrap_or("not set")
    );

    let id = config.id.clone();
    let router = app(AppState {
        id: config.id.clone(),
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

    async fn get(path: &str) -> (StatusCode, serde_json::Value) {
        let router = app(AppState {
            id: "MediaRender-1".into(),
        });
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

    #[tokio::test]
    async fn health_names_the_render() {
        let (status, body) = get(HEALTH).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            serde_json::json!({ "status": "ok", "server": "MediaRender-1" })
        );
    }

    #[tokio::test]
    async fn unknown_routes_answer_a_json_404() {
        let (status, body) = get("/v1/info").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(
            body["error"].as_str().unwrap().contains("/v1/info"),
            "{body}"
        );
    }
}
