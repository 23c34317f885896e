//! The render's HTTP control API (`docs/media.md`): load, transport controls, queue, status, and
//! `GET /listen`, an audio stream of what it plays.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use grid_proto::api::ErrorBody;
use grid_proto::media::{RenderStatus, TrackInfo, TrackRef};
use grid_proto::paths;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::error::PlayError;
use crate::player::{Action, PlayerHandle};

/// `GET` liveness: [`Health`].
pub const HEALTH: &str = "/v1/health";

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok` while the render answers.
    pub status: String,
    /// Server id.
    pub server: String,
}

/// The handlers' shared state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Server id.
    pub id: String,
    /// The player.
    pub player: PlayerHandle,
    /// Flips to true when the render stops: `/listen` streams end so shutdown is not held up.
    pub stopping: watch::Receiver<bool>,
}

/// The HTTP API, without a socket.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(HEALTH, get(health))
        .route(paths::RENDER_STATUS, get(status))
        .route(paths::RENDER_LOAD, post(load))
        .route(
            paths::RENDER_QUEUE,
            get(queue_list).post(queue_add).delete(queue_clear),
        )
        .route(paths::RENDER_ACTION, post(action))
        .route(paths::RENDER_LISTEN, get(listen))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        server: state.id.clone(),
    })
}

async fn status(State(state): State<AppState>) -> Json<RenderStatus> {
    Json(state.player.status())
}

/// Reads `{track_id}` with an error that says what the body should be.
fn track_ref(body: &[u8]) -> Result<String, PlayError> {
    serde_json::from_slice::<TrackRef>(body)
        .map(|r| r.track_id)
        .map_err(|e| {
            PlayError::BadRequest(format!(
                "the body must be JSON {{\"track_id\": \"<16 hex digits>\"}}: {e}"
            ))
        })
}

/// A body that cannot be read, as a JSON error.
fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, PlayError> {
    body.map_err(|e| {
        PlayError::Rejected(
            e.status(),
            format!("cannot read the body: {}", e.body_text()),
        )
    })
}

async fn load(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<RenderStatus>, PlayError> {
    let id = track_ref(&body(raw)?)?;
    state.player.load(id).await.map(Json)
}

async fn action(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<RenderStatus>, PlayError> {
    let Path(name) =
        name.map_err(|e| PlayError::Rejected(e.status(), format!("bad path: {}", e.body_text())))?;
    let action = Action::parse(&name).ok_or_else(|| {
        PlayError::NotFound(format!(
            "no such action: {name} (play, pause, resume, stop, next)"
        ))
    })?;
    state.player.act(action).await.map(Json)
}

async fn queue_list(State(state): State<AppState>) -> Result<Json<Vec<TrackInfo>>, PlayError> {
    state.player.queue().await.map(Json)
}

async fn queue_add(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<TrackInfo>>, PlayError> {
    let id = track_ref(&body(raw)?)?;
    state.player.queue_add(id).await.map(Json)
}

async fn queue_clear(State(state): State<AppState>) -> Result<Json<Vec<TrackInfo>>, PlayError> {
    state.player.queue_clear().await.map(Json)
}

/// What the render plays from now on, as `audio/mpeg`; a client that falls behind skips ahead.
async fn listen(State(state): State<AppState>) -> Response {
    let rx = state.player.listen();
    let stopping = state.stopping.clone();
    let guard = Listener::joined();
    let stream = futures_util::stream::unfold(
        (rx, stopping, guard),
        |(mut rx, mut stopping, mut guard)| async move {
            loop {
                if *stopping.borrow() {
                    return None;
                }
                tokio::select! {
                    got = rx.recv() => match got {
                        Ok(bytes) => {
                            return Some((Ok::<_, Infallible>(bytes), (rx, stopping, guard)));
                        }
                        Err(RecvError::Lagged(n)) => guard.lagged(n),
                        Err(RecvError::Closed) => return None,
                    },
                    _ = stopping.changed() => {}
                }
            }
        },
    );
    (
        [
            (header::CONTENT_TYPE, "audio/mpeg"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// One `/listen` client: a log line when it joins and when it leaves (its body is dropped).
struct Listener {
    /// Releases skipped while it lagged.
    skipped: u64,
}

impl Listener {
    fn joined() -> Self {
        tracing::info!("/listen: a listener joined");
        Self { skipped: 0 }
    }

    /// The client fell behind by `n` releases and skips ahead.
    fn lagged(&mut self, n: u64) {
        self.skipped += n;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        tracing::info!(
            "/listen: a listener left ({} releases skipped while it lagged)",
            self.skipped
        );
    }
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

async fn method_not_allowed(method: Method, uri: Uri) -> (StatusCode, Json<ErrorBody>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(ErrorBody {
            error: format!("{method} is not allowed on {}", uri.path()),
            detail: None,
        }),
    )
}
