//! Servers: list, describe, start/stop/restart/enable/disable/signal, log.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use grid_proto::api::{LogReply, ServerDetail, ServerRuntime, ServerView, SignalRequest};
use grid_proto::paths;

use super::error::ApiError;
use super::extract::Admin;
use crate::node_link;
use crate::state::AppState;

/// Every server.
pub(crate) async fn list(State(state): State<AppState>, _: Admin) -> Json<Vec<ServerView>> {
    Json(state.live().server_views())
}

fn unknown(id: &str) -> ApiError {
    ApiError::NotFound(format!("unknown server '{id}'"))
}

/// One server with its descriptor.
pub(crate) async fn describe(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<ServerDetail>, ApiError> {
    let live = state.live();
    let s = live.index.servers.get(&id).ok_or_else(|| unknown(&id))?;
    Ok(Json(ServerDetail {
        view: live.server_view(s),
        descriptor: s.clone(),
    }))
}

/// The view of a server with the runtime a node just answered.
fn view_with(
    state: &AppState,
    id: &str,
    runtime: Option<ServerRuntime>,
) -> Result<ServerView, ApiError> {
    let live = state.live();
    let s = live.index.servers.get(id).ok_or_else(|| unknown(id))?;
    let mut view = live.server_view(s);
    if let Some(rt) = runtime {
        view.runtime = rt;
    }
    Ok(view)
}

/// `POST /v1/servers/{id}/{action}`.
pub(crate) async fn action(
    State(state): State<AppState>,
    Admin(user): Admin,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<ServerView>, ApiError> {
    let (node, flags) = {
        let live = state.live();
        let s = live.index.servers.get(&id).ok_or_else(|| unknown(&id))?;
        (s.node.clone(), live.flags_of(&id))
    };
    let node_action = |a: &'static str| paths::fill(paths::NODE_SERVER_ACTION, &[&id, a]);
    let runtime = match action.as_str() {
        "start" | "restart" => {
            if !flags.enabled {
                return Err(ApiError::Conflict(format!(
                    "server '{id}' is disabled; enable it first"
                )));
            }
            node_link::set_flags(&state, &id, None, Some(false)).await?;
            let verb = if action == "start" {
                "start"
            } else {
                "restart"
            };
            tracing::info!(server = %id, %user, "{verb} requested");
            Some(
                node_link::call_node(&state, &node, &node_action(verb), &serde_json::json!({}))
                    .await?,
            )
        }
        "stop" => {
            node_link::set_flags(&state, &id, None, Some(true)).await?;
            tracing::info!(server = %id, %user, "stop requested");
            Some(
                node_link::call_node(&state, &node, &node_action("stop"), &serde_json::json!({}))
                    .await?,
            )
        }
        "enable" | "disable" => {
            node_link::set_flags(&state, &id, Some(action == "enable"), None).await?;
            tracing::info!(server = %id, %user, "{action}d");
            None
        }
        "signal" => {
            let req: SignalRequest = serde_json::from_slice(&body)
                .map_err(|e| ApiError::BadRequest(format!("bad request body: {e}"), None))?;
            Some(node_link::call_node(&state, &node, &node_action("signal"), &req).await?)
        }
        other => {
            return Err(ApiError::NotFound(format!(
                "unknown server action '{other}' (start, stop, restart, enable, disable, signal)"
            )));
        }
    };
    view_with(&state, &id, runtime).map(Json)
}

/// `GET /v1/servers/{id}/log`: forwarded to the server's node.
pub(crate) async fn log(
    State(state): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogReply>, ApiError> {
    let node = state
        .live()
        .index
        .servers
        .get(&id)
        .map(|s| s.node.clone())
        .ok_or_else(|| unknown(&id))?;
    let mut path = paths::fill(paths::NODE_SERVER_LOG, &[&id]);
    if let Some(q) = query {
        path.push('?');
        path.push_str(&q);
    }
    let client = node_link::node_client(&state, &node)?;
    client
        .get(&path)
        .await
        .map(Json)
        .map_err(|e| ApiError::from_node(&node, e))
}
