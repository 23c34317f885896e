//! `GET /metrics`: open, like `/v1/registry` (a scrape endpoint carries no secrets).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use grid_proto::metrics::CONTENT_TYPE as OPENMETRICS;

use super::error::ApiError;
use crate::state::AppState;

/// The registry's counters and the model's gauges.
pub(crate) async fn scrape(State(state): State<AppState>) -> Result<Response, ApiError> {
    let sessions = state.auth().sessions();
    let text = state
        .metrics()
        .encode(state.model(), sessions, state.uptime())
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("encoding the metrics: {e}")))?;
    Ok(([(CONTENT_TYPE, OPENMETRICS)], text).into_response())
}
