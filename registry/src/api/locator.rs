//! The locator: adapter id or replica-group id → live endpoints, ordered by the group's policy.
//! Locating an on-demand server's adapter starts the server and waits until it is active.

use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use grid_proto::api::{AdapterView, LocateReply};
use grid_proto::paths;

use super::error::ApiError;
use crate::metrics::LocateResult;
use crate::node_link;
use crate::state::AppState;

/// Every adapter with its current endpoint. Open, like `locate`: clients (media-control) find
/// the renders with it and hold no admin session.
pub(crate) async fn adapters(State(state): State<AppState>) -> Json<Vec<AdapterView>> {
    Json(state.model().view().adapter_views())
}

/// `GET /v1/locate/{id}`, counted and timed by result.
pub(crate) async fn locate(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LocateReply>, ApiError> {
    let started = Instant::now();
    let reply = answer(&state, id).await;
    let result = match &reply {
        Ok(r) if r.endpoints.is_empty() => LocateResult::Empty,
        Ok(_) => LocateResult::Found,
        Err(ApiError::NotFound(_)) => LocateResult::Unknown,
        Err(_) => LocateResult::Failed,
    };
    state.metrics().locate(result, started.elapsed());
    reply.map(Json)
}

/// The live endpoints of `id`, starting an on-demand server first.
pub(super) async fn answer(state: &AppState, id: String) -> Result<LocateReply, ApiError> {
    let located = state.model().locate(&id)?;
    let endpoints = match located.on_demand {
        None => located.endpoints,
        Some(start) => {
            tracing::info!(server = %start.server, locate = %id, "activating on-demand server");
            let path = paths::fill(paths::NODE_SERVER_ACTION, &[&start.server, "start"]);
            let _ = node_link::call_node(state, &start.node, &path, &serde_json::json!({})).await?;
            state.model().wait_live(&start).await?;
            state.model().locate(&id)?.endpoints
        }
    };
    Ok(LocateReply {
        id,
        kind: located.kind.to_owned(),
        endpoints,
    })
}
