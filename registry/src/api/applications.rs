//! Applications: add, update, remove, diff (list and describe are in `read`).

use axum::Json;
use axum::extract::{Path, State};
use grid_proto::api::{ApplicationChanged, ApplicationDiff, DescriptorSource};

use super::error::ApiError;
use super::extract::{Admin, Body, Viewer};
use crate::model::{ModelError, Push};
use crate::node_link;
use crate::state::AppState;

/// `POST /v1/applications-diff`.
pub(crate) async fn diff(
    State(state): State<AppState>,
    _: Viewer,
    Body(req): Body<DescriptorSource>,
) -> Result<Json<ApplicationDiff>, ApiError> {
    Ok(Json(state.model().diff(&req.source)?))
}

/// `POST /v1/applications`.
pub(crate) async fn add(
    State(state): State<AppState>,
    _: Admin,
    Body(req): Body<DescriptorSource>,
) -> Result<Json<ApplicationChanged>, ApiError> {
    deployed(&state, state.model().add_application(&req.source).await).await
}

/// `PUT /v1/applications/{name}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    Body(req): Body<DescriptorSource>,
) -> Result<Json<ApplicationChanged>, ApiError> {
    deployed(
        &state,
        state.model().update_application(&name, &req.source).await,
    )
    .await
}

/// `DELETE /v1/applications/{name}`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> Result<Json<ApplicationChanged>, ApiError> {
    deployed(&state, state.model().remove_application(&name).await).await
}

/// A deployment's answer, once the nodes were sent their new assignments.
async fn deployed(
    state: &AppState,
    done: Result<(ApplicationChanged, Push), ModelError>,
) -> Result<Json<ApplicationChanged>, ApiError> {
    let (changed, push) = done?;
    node_link::push(state, push).await;
    Ok(Json(changed))
}
