//! Nodes: the admin's ping and shutdown (list and show are in `read`) and the nodes' own calls
//! (register, heartbeat, server state).

use axum::Json;
use axum::extract::{Path, State};
use grid_proto::access::Role;
use grid_proto::api::{
    ForwardedEvent, Heartbeat, HeartbeatReply, NodeRegister, NodeRegistered, NodeStatus,
    ServerRuntime,
};
use grid_proto::paths;

use super::error::ApiError;
use super::extract::{Body, NodeAuth, Viewer, require};
use crate::node_link;
use crate::state::AppState;

/// `POST /v1/nodes/{name}/{ping|shutdown}`.
pub(crate) async fn action(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let client = node_link::node_client(&state, &name)?;
    match action.as_str() {
        "ping" => {
            let status: NodeStatus = client
                .get(paths::NODE_STATUS)
                .await
                .map_err(node_link::failed(&name))?;
            Ok(Json(
                serde_json::to_value(status).map_err(anyhow::Error::from)?,
            ))
        }
        "shutdown" => {
            let caller = require(caller, Role::Admin, &format!("shutting node {name} down"))?;
            tracing::info!(node = %name, user = %caller.user, "node shutdown requested");
            let _: serde_json::Value = client
                .post(paths::NODE_SHUTDOWN, &serde_json::json!({}))
                .await
                .map_err(node_link::failed(&name))?;
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
) -> Json<NodeRegistered> {
    let assignment = state.model().register_node(&name, req);
    Json(NodeRegistered {
        assignment,
        heartbeat_ms: state.settings().heartbeat.as_millis() as u64,
    })
}

/// A node's heartbeat.
pub(crate) async fn heartbeat(
    State(state): State<AppState>,
    _: NodeAuth,
    Path(name): Path<String>,
    Body(req): Body<Heartbeat>,
) -> Result<Json<HeartbeatReply>, ApiError> {
    Ok(Json(state.model().heartbeat(&name, &req)?))
}

/// A node reports a server's new state.
pub(crate) async fn server_state(
    State(state): State<AppState>,
    _: NodeAuth,
    Path(name): Path<String>,
    Body(rt): Body<ServerRuntime>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.model().server_state(&name, rt)?;
    Ok(Json(serde_json::json!({})))
}

/// A server's application event (a render's playback events), forwarded by its node.
pub(crate) async fn server_event(
    State(state): State<AppState>,
    _: NodeAuth,
    Path(name): Path<String>,
    Body(ev): Body<ForwardedEvent>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.model().server_event(&name, ev)?;
    Ok(Json(serde_json::json!({})))
}

/// `POST /v1/nodes/{name}/certificate`: a certificate of the grid CA for the node's address,
/// for its own key (the request holds only its public half).
pub(crate) async fn certificate(
    State(state): State<AppState>,
    _: NodeAuth,
    Path(name): Path<String>,
    Body(req): Body<grid_proto::tls::CertificateRequest>,
) -> Result<Json<grid_proto::tls::CertificateIssued>, ApiError> {
    let Some(ca) = &state.settings().ca else {
        return Err(ApiError::Conflict(
            "this registry does not speak TLS (start it with --tls)".into(),
        ));
    };
    let address: std::net::IpAddr = req.address.parse().map_err(|_| {
        ApiError::BadRequest(
            format!("address '{}' is not an IP address", req.address),
            None,
        )
    })?;
    let certificate = ca
        .sign_request(&req.csr, &[address.to_string()])
        .map_err(|e| ApiError::BadRequest(format!("cannot sign the request: {e}"), None))?;
    tracing::info!(node = %name, %address, "issued a certificate");
    Ok(Json(grid_proto::tls::CertificateIssued {
        certificate,
        ca: ca.cert_pem().to_owned(),
    }))
}
