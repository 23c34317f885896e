//! Servers: start/stop/restart/enable/disable/signal, log (list and describe are in `read`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use grid_proto::api::{LogReply, ServerView, SignalRequest};
use grid_proto::paths;

use super::error::ApiError;
use super::extract::{Operator, Viewer};
use crate::node_link;
use crate::state::AppState;

/// `POST /v1/servers/{id}/{action}`.
pub(crate) async fn action(
    State(state): State<AppState>,
    Operator(caller): Operator,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<ServerView>, ApiError> {
    let node = state.model().server_node(&id)?;
    let node_action = |a: &'static str| paths::fill(paths::NODE_SERVER_ACTION, &[&id, a]);
    let model = state.model();
    let runtime = match action.as_str() {
        "start" | "restart" => {
            let (node, push) = model.start_server(&id).await?;
            node_link::push(&state, push).await;
            let verb = if action == "start" {
                "start"
            } else {
                "restart"
            };
            tracing::info!(server = %id, user = %caller.user, "{verb} requested");
            Some(
                node_link::call_node(&state, &node, &node_action(verb), &serde_json::json!({}))
                    .await?,
            )
        }
        "stop" => {
            let (node, push) = model.stop_server(&id).await?;
            node_link::push(&state, push).await;
            tracing::info!(server = %id, user = %caller.user, "stop requested");
            Some(
                node_link::call_node(&state, &node, &node_action("stop"), &serde_json::json!({}))
                    .await?,
            )
        }
        "enable" | "disable" => {
            let push = model.enable_server(&id, action == "enable").await?;
            node_link::push(&state, push).await;
            tracing::info!(server = %id, user = %caller.user, "{action}d");
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
    // The runtime the node just answered is newer than the model's.
    let mut view = model.view().server(&id)?.view;
    if let Some(rt) = runtime {
        view.runtime = rt;
    }
    Ok(Json(view))
}

/// `GET /v1/servers/{id}/log`: forwarded to the server's node.
pub(crate) async fn log(
    State(state): State<AppState>,
    _: Viewer,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<LogReply>, ApiError> {
    let node = state.model().server_node(&id)?;
    let mut path = paths::fill(paths::NODE_SERVER_LOG, &[&id]);
    if let Some(q) = query {
        path.push('?');
        path.push_str(&q);
    }
    let client = node_link::node_client(&state, &node)?;
    let reply = client.get(&path).await.map_err(node_link::failed(&node))?;
    Ok(Json(reply))
}
