//! `POST /v1/sessions` (login), the session list and revocation, and `GET /v1/registry`.

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::{Path, State};
use axum::{Extension, Json};
use grid_proto::access::{SessionView, WhoAmI};
use grid_proto::api::{LoginReply, LoginRequest, RegistryInfo};
use grid_proto::serve::Peer;

use super::error::ApiError;
use super::extract::{Body, Viewer};
use crate::auth::{AuthError, Opened, SESSION_TTL};
use crate::state::AppState;

/// Checks user + password and opens a session.
pub(crate) async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<Peer>>,
    Body(req): Body<LoginRequest>,
) -> Result<Json<LoginReply>, ApiError> {
    let opened = open(&state, &req.user, &req.password, peer_ip(peer)).await?;
    // The user may have been removed meanwhile: then the session is of no one.
    let role = state
        .auth()
        .caller(&opened.token)
        .map(|c| c.role)
        .ok_or_else(|| ApiError::Unauthorized(AuthError::Denied.to_string()))?;
    Ok(Json(LoginReply {
        token: opened.token,
        expires_in_s: SESSION_TTL.as_secs(),
        role,
        must_change_password: opened.must_change_password,
    }))
}

/// The address a request came from; unspecified when it came some other way than a listener
/// (a router driven in-process).
pub(crate) fn peer_ip(peer: Option<Extension<Peer>>) -> IpAddr {
    peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |Extension(Peer(a))| {
        a.ip()
    })
}

/// Opens a session for `user` (the API's login and the console's), counted and logged.
pub(crate) async fn open(
    state: &AppState,
    user: &str,
    password: &str,
    peer: IpAddr,
) -> Result<Opened, AuthError> {
    let opened = state.auth().login(user, password, peer).await;
    match &opened {
        Ok(o) => {
            state.metrics().login(true);
            tracing::debug!(%user, %peer, must_change_password = o.must_change_password, "session opened");
        }
        Err(AuthError::Denied) => {
            state.metrics().login(false);
            tracing::warn!(%user, %peer, "login refused");
        }
        // Logged once when the hold begins (auth); not once per attempt an attacker sends.
        Err(AuthError::Throttled { .. }) => state.metrics().login(false),
        Err(AuthError::Internal(e)) => tracing::error!(cause = %e, "login failed"),
    }
    opened
}

/// `GET /v1/sessions`: an admin sees every live session, others their own.
pub(crate) async fn list(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
) -> Json<Vec<SessionView>> {
    Json(state.auth().list_sessions(&caller))
}

/// `GET /v1/whoami`.
pub(crate) async fn whoami(Viewer(caller): Viewer) -> Json<WhoAmI> {
    Json(WhoAmI {
        user: caller.user,
        role: caller.role,
    })
}

/// `DELETE /v1/sessions/{id}`: ends one's own session, or anyone's for an admin.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let which = id.clone();
    let user =
        super::users::finish(async move { state.auth().revoke_session(&caller, &which).await })
            .await?;
    Ok(Json(serde_json::json!({ "id": id, "user": user })))
}

/// What the registry is and holds.
pub(crate) async fn registry_info(State(state): State<AppState>) -> Json<RegistryInfo> {
    let live = state.model().view();
    Json(RegistryInfo {
        version: grid_proto::PROTOCOL_VERSION.to_owned(),
        listen: state.settings().listen.clone(),
        data_dir: state.settings().data_dir.clone(),
        uptime_s: state.uptime().as_secs(),
        applications: live.application_count(),
        nodes: live.node_count(),
        nodes_up: live.nodes_up(),
        servers: live.server_count(),
        event_serial: state.model().event_serial(),
    })
}
