//! `POST /v1/sessions` (login) and `GET /v1/registry`.

use axum::Json;
use axum::extract::State;
use grid_proto::api::{LoginReply, LoginRequest, RegistryInfo};

use super::error::ApiError;
use super::extract::Body;
use crate::auth::{AuthError, SESSION_TTL};
use crate::state::AppState;

/// Checks user + password and opens a session.
pub(crate) async fn login(
    State(state): State<AppState>,
    Body(req): Body<LoginRequest>,
) -> Result<Json<LoginReply>, ApiError> {
    match open(&state, &req.user, &req.password).await {
        Ok(token) => Ok(Json(LoginReply {
            token,
            expires_in_s: SESSION_TTL.as_secs(),
        })),
        Err(AuthError::Denied) => Err(ApiError::Unauthorized(AuthError::Denied.to_string())),
        Err(AuthError::Internal(e)) => Err(ApiError::Internal(anyhow::anyhow!(e))),
    }
}

/// Opens a session for `user` (the API's login and the console's), counted and logged; its token.
pub(crate) async fn open(
    state: &AppState,
    user: &str,
    password: &str,
) -> Result<String, AuthError> {
    let opened = state.auth().login(state.store(), user, password).await;
    match &opened {
        Ok(_) => {
            state.metrics().login(true);
            tracing::debug!(%user, "session opened");
        }
        Err(AuthError::Denied) => {
            state.metrics().login(false);
            tracing::warn!(%user, "login refused");
        }
        Err(AuthError::Internal(e)) => tracing::error!(cause = %e, "login failed"),
    }
    opened
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
