//! Applications: list, describe, add, update, remove, diff.

use axum::Json;
use axum::extract::{Path, State};
use grid_proto::api::{
    ApplicationChanged, ApplicationDetail, ApplicationDiff, ApplicationSummary, DescriptorSource,
};

use super::error::ApiError;
use super::extract::{Admin, Body};
use crate::node_link;
use crate::state::AppState;

/// Every application.
pub(crate) async fn list(State(state): State<AppState>, _: Admin) -> Json<Vec<ApplicationSummary>> {
    Json(state.model().view().app_summaries())
}

/// One application with its source and expanded servers.
pub(crate) async fn describe(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> Result<Json<ApplicationDetail>, ApiError> {
    Ok(Json(state.model().view().application(&name)?))
}

/// `POST /v1/applications-diff`.
pub(crate) async fn diff(
    State(state): State<AppState>,
    _: Admin,
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
    let (changed, push) = state.model().add_application(&req.source).await?;
    node_link::push(&state, push).await;
    Ok(Json(changed))
}

/// `PUT /v1/applications/{name}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    Body(req): Body<DescriptorSource>,
) -> Result<Json<ApplicationChanged>, ApiError> {
    let (changed, push) = state.model().update_application(&name, &req.source).await?;
    node_link::push(&state, push).await;
    Ok(Json(changed))
}

/// `DELETE /v1/applications/{name}`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> Result<Json<ApplicationChanged>, ApiError> {
    let (changed, push) = state.model().remove_application(&name).await?;
    node_link::push(&state, push).await;
    Ok(Json(changed))
}
