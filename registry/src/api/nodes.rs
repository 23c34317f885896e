//! Nodes: the admin's view (list, show, ping, shutdown) and the nodes' own calls (register,
//! heartbeat, server state).

use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use grid_proto::api::{
    EventKind, ForwardedEvent, Heartbeat, HeartbeatReply, NodeRegister, NodeRegistered, NodeStatus,
    NodeView, ServerRuntime,
};
use grid_proto::paths;

use super::error::ApiError;
use super::extract::{Admin, Body, NodeAuth};
use crate::model::NodeEntry;
use crate::node_link;
use crate::state::AppState;

/// Every node.
pub(crate) async fn list(State(state): State<AppState>, _: Admin) -> Json<Vec<NodeView>> {
    Json(state.live().node_views())
}

/// One node.
pub(crate) async fn show(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> Result<Json<NodeView>, ApiError> {
    let live = state.live();
    let n = live
        .nodes
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("unknown node '{name}'")))?;
    Ok(Json(live.node_view(&name, n)))
}

/// `POST /v1/nodes/{name}/{ping|shutdown}`.
pub(crate) async fn action(
    State(state): State<AppState>,
    Admin(user): Admin,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let client = node_link::node_client(&state, &name)?;
    match action.as_str() {
        "ping" => {
            let status: NodeStatus = client
                .get(paths::NODE_STATUS)
                .await
                .map_err(|e| ApiError::from_node(&name, e))?;
            Ok(Json(
                serde_json::to_value(status).map_err(anyhow::Error::from)?,
            ))
        }
        "shutdown" => {
            tracing::info!(node = %name, %user, "node shutdown requested");
            let _: serde_json::Value = client
                .post(paths::NODE_SHUTDOWN, &serde_json::json!({}))
                .await
                .map_err(|e| ApiError::from_node(&name, e))?;
            Ok(Json(serde_json::json!({})))
        }
        other => Err(ApiError::NotFound(format!(
            "unknown node action '{other}' (ping, shutdown)"
        ))),
    }
}

/// A node (re-)registers with everything it runs.
pub(crate) async fn register(
    State(state): State<AppState>,
    _: NodeAuth,
    Path(name): Path<String>,
    Body(req): Body<NodeRegister>,
) -> Result<Json<NodeRegistered>, ApiError> {
    let (assignment, was_up) = {
        let mut live = state.live();
        let was_up = live.node_up(&name);
        live.nodes.insert(
            name.clone(),
            NodeEntry {
                endpoint: req.endpoint.clone(),
                address: req.address.clone(),
                host: req.host,
                load: req.load,
                last_seen: Instant::now(),
                up: true,
                needs_register: false,
            },
        );
        // What the node does not report is not running there.
        let reported: std::collections::HashSet<&str> =
            req.servers.iter().map(|s| s.id.as_str()).collect();
        let mine: Vec<String> = live
            .index
            .servers
            .values()
            .filter(|s| s.node == name)
            .map(|s| s.id.clone())
            .collect();
        for id in mine {
            if !reported.contains(id.as_str()) {
                live.runtime.remove(&id);
            }
        }
        for rt in req.servers {
            live.runtime.insert(rt.id.clone(), rt);
        }
        (live.assignment(&name), was_up)
    };
    tracing::info!(node = %name, endpoint = %req.endpoint, "node registered");
    if !was_up {
        state.publish(EventKind::NodeUp { node: name });
    }
    state.notify_changed();
    Ok(Json(NodeRegistered {
        assignment,
        heartbeat_ms: state.settings().heartbeat.as_millis() as u64,
    }))
}

/// A node's heartbeat.
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    _: NodeAuth,
    Path(name): Path<String>,
    Body(req): Body<Heartbeat>,
) -> Result<Json<HeartbeatReply>, ApiError> {
    let came_back;
    let reply = {
        let mut live = state.live();
        let serial = live.assignment_serial;
        let Some(n) = live.nodes.get_mut(&name).filter(|n| !n.needs_register) else {
            return Err(ApiError::NotFound(format!(
                "unknown node '{name}'; register first"
            )));
        };
        n.last_seen = Instant::now();
        n.load = req.load;
        came_back = !n.up;
        n.up = true;
        HeartbeatReply {
            assignment: (req.assignment_serial != serial).then(|| live.assignment(&name)),
        }
    };
    if came_back {
        tracing::info!(node = %name, "node up");
        state.publish(EventKind::NodeUp { node: name });
        state.notify_changed();
    }
    Ok(Json(reply))
}

/// A node reports a server's new state.
pub(crate) async fn server_state(
    State(state): State<AppState>,
    _: NodeAuth,
    Path(name): Path<String>,
    Body(rt): Body<ServerRuntime>,
) -> Result<Json<serde_json::Value>, ApiError> {
    {
        let mut live = state.live();
        if !live.nodes.contains_key(&name) {
            return Err(ApiError::NotFound(format!(
                "unknown node '{name}'; register first"
            )));
        }
        if let Some(n) = live.nodes.get_mut(&name) {
            n.last_seen = Instant::now();
        }
        live.runtime.insert(rt.id.clone(), rt.clone());
    }
    tracing::info!(server = %rt.id, node = %name, state = %rt.state, pid = ?rt.pid, "server state");
    state.publish(EventKind::ServerState {
        server: rt.id.clone(),
        node: name,
        runtime: rt,
    });
    state.notify_changed();
    Ok(Json(serde_json::json!({})))
}

/// A server's application event (a render's playback events), forwarded by its node.
pub(crate) async fn server_event(
    State(state): State<AppState>,
    _: NodeAuth,
    Path(name): Path<String>,
    Body(ev): Body<ForwardedEvent>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let known = state
        .live()
        .index
        .servers
        .get(&ev.server)
        .is_some_and(|s| s.node == name);
    if !known {
        return Err(ApiError::NotFound(format!(
            "node '{name}' has no server '{}'",
            ev.server
        )));
    }
    state.publish(EventKind::Server {
        server: ev.server,
        payload: ev.payload,
    });
    Ok(Json(serde_json::json!({})))
}
