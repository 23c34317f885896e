//! Users: list, add, remove, set a password or a role.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use grid_proto::access::{PasswordChange, RoleChange, UserAdd, UserView};
use grid_proto::serve::Peer;

use super::error::ApiError;
use super::extract::{Admin, Body, Viewer};
use super::sessions::peer_ip;
use crate::auth::UserError;
use crate::state::AppState;

/// `GET /v1/users`.
pub(crate) async fn list(State(state): State<AppState>, _: Admin) -> Json<Vec<UserView>> {
    Json(state.auth().list_users())
}

/// `POST /v1/users`.
pub(crate) async fn add(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Body(add): Body<UserAdd>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let user = finish(async move { state.auth().add_user(&add, &caller.user).await }).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// `DELETE /v1/users/{name}`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let removed = name.clone();
    finish(async move { state.auth().remove_user(&removed, &caller.user).await }).await?;
    Ok(Json(serde_json::json!({ "removed": name })))
}

/// `PUT /v1/users/{name}/password`: one's own (with the current password), or anyone's for an
/// admin.
pub(crate) async fn password(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    peer: Option<Extension<Peer>>,
    Path(name): Path<String>,
    Body(change): Body<PasswordChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let peer = peer_ip(peer);
    let whose = name.clone();
    finish(async move {
        state
            .auth()
            .set_password(&caller, peer, &whose, &change)
            .await
    })
    .await?;
    Ok(Json(serde_json::json!({ "user": name })))
}

/// `PUT /v1/users/{name}/role`.
pub(crate) async fn role(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(name): Path<String>,
    Body(change): Body<RoleChange>,
) -> Result<Json<UserView>, ApiError> {
    let user = finish(async move {
        state
            .auth()
            .set_role(&name, change.role, &caller.user)
            .await
    })
    .await?;
    Ok(Json(user))
}

/// Runs a change to users or sessions to its end even if the client goes away meanwhile:
/// the store and the memory behind it are written together or not at all.
pub(crate) async fn finish<T: Send + 'static>(
    change: impl std::future::Future<Output = Result<T, UserError>> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::spawn(change).await {
        Ok(done) => done.map_err(ApiError::from),
        Err(e) => Err(ApiError::Internal(anyhow::anyhow!(
            "a user change failed: {e}"
        ))),
    }
}
