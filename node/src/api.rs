//! The node API (see docs/protocol.md): the registry's commands, and servers' readiness reports.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use grid_proto::api::{
    Assignment, ErrorBody, LogReply, NodeStatus, ReadyReport, ServerRuntime, SignalRequest,
};
use grid_proto::paths;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::supervisor::stop::parse_signal;
use crate::supervisor::{Handle, SupError, logs};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The supervisor.
    pub sup: Handle,
    /// The cluster secret registry calls must carry.
    pub secret: Arc<str>,
    /// Cancelled by `POST /v1/shutdown`.
    pub shutdown: CancellationToken,
    /// Servers' application events on their way to the registry.
    pub events: crate::events::Forwarder,
    /// The counters and histograms of `GET /metrics`.
    pub metrics: Arc<crate::metrics::NodeMetrics>,
}

/// An error answer: a status and one sentence, as `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl ApiError {
    /// An answer of `status` saying `message`.
    pub fn new(status: StatusCode, message: String) -> Self {
        Self(status, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.1,
            detail: None,
        };
        (self.0, Json(body)).into_response()
    }
}

impl From<SupError> for ApiError {
    fn from(e: SupError) -> Self {
        let status = match &e {
            SupError::Unknown(_) => StatusCode::NOT_FOUND,
            SupError::Disabled(_) | SupError::NotRunning(_) => StatusCode::CONFLICT,
            SupError::BadToken(_) => StatusCode::UNAUTHORIZED,
            SupError::BadRequest(_) => StatusCode::BAD_REQUEST,
            SupError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        };
        Self(status, e.to_string())
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The node's router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(paths::NODE_ASSIGNMENT, put(assignment))
        .route(paths::NODE_SERVER_ACTION, post(action).get(server_get))
        .route(paths::NODE_STATUS, get(status))
        .route(paths::NODE_SHUTDOWN, post(shutdown))
        .route(paths::METRICS, get(metrics))
        .fallback(|| async { ApiError(StatusCode::NOT_FOUND, "no such route".into()) })
        .with_state(state)
}

/// Registry calls carry the cluster secret.
fn check_secret(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let given = headers
        .get(grid_proto::SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if grid_proto::secret::eq(given, state.secret.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong cluster secret".into(),
        ))
    }
}

fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

async fn assignment(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<NodeStatus> {
    check_secret(&state, &headers)?;
    let a: Assignment = parse_body(&body)?;
    Ok(Json(state.sup.apply(a, true).await?))
}

async fn action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    if action == "ready" {
        // Authenticated by the per-spawn token, not the cluster secret.
        let report: ReadyReport = parse_body(&body)?;
        state.sup.ready(&id, report).await?;
        return Ok(Json(serde_json::json!({})).into_response());
    }
    if action == "event" {
        // Also from the server itself, with its per-spawn token.
        let ev: grid_proto::media::ServerEvent = parse_body(&body)?;
        state.sup.check_token(&id, ev.token).await?;
        state.events.send(&id, ev.payload);
        return Ok(Json(serde_json::json!({})).into_response());
    }
    check_secret(&state, &headers)?;
    let rt: ServerRuntime = match action.as_str() {
        "start" => state.sup.start(&id, false).await?,
        "restart" => state.sup.start(&id, true).await?,
        "stop" => state.sup.stop(&id).await?,
        "signal" => {
            let req: SignalRequest = parse_body(&body)?;
            let sig =
                parse_signal(&req.signal).map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
            state.sup.signal(&id, sig).await?
        }
        other => {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown server action '{other}' (start, stop, restart, signal, ready, event)"
                ),
            ));
        }
    };
    Ok(Json(rt).into_response())
}

/// `?tail=N&stderr=BOOL&offset=N`.
#[derive(Debug, Default, Deserialize)]
struct LogQuery {
    tail: Option<usize>,
    #[serde(default)]
    stderr: bool,
    offset: Option<u64>,
}

async fn server_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, what)): Path<(String, String)>,
    query: Result<Query<LogQuery>, QueryRejection>,
) -> ApiResult<LogReply> {
    check_secret(&state, &headers)?;
    if what != "log" {
        return Err(ApiError(StatusCode::NOT_FOUND, "no such route".into()));
    }
    let Query(q) = query.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let (out, err) = state.sup.log_paths(&id).await?;
    let path = if q.stderr { err } else { out };
    let read = tokio::task::spawn_blocking(move || {
        logs::read_log(&path, q.tail, q.offset)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    read.map(Json)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e))
}

async fn status(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<NodeStatus> {
    check_secret(&state, &headers)?;
    Ok(Json(state.sup.status().await?.status))
}

async fn shutdown(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<serde_json::Value> {
    check_secret(&state, &headers)?;
    tracing::info!("shutdown requested through the API");
    state.shutdown.cancel();
    Ok(Json(serde_json::json!({})))
}

/// `GET /metrics`: open, like a registry's (a scrape endpoint carries no secrets).
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let snapshot = state.sup.status().await?;
    let text = state.metrics.encode(snapshot.status.servers).map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding the metrics: {e}"),
        )
    })?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            grid_proto::metrics::CONTENT_TYPE,
        )],
        text,
    )
        .into_response())
}
