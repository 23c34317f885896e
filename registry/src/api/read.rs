//! The admin's reads of the model: a whole collection, or one item by the name in the path.
//! Each wire type says which view of the model answers for it, and one pair of handlers serves
//! applications, servers and nodes alike.

use axum::Json;
use axum::extract::{Path, State};
use grid_proto::api::{ApplicationDetail, ApplicationSummary, NodeView, ServerDetail, ServerView};
use serde::Serialize;

use super::error::ApiError;
use super::extract::Viewer;
use crate::model::{Live, ModelError};
use crate::state::AppState;

/// An item of a collection's `GET`.
pub(crate) trait Listed: Serialize + Send + Sized + 'static {
    /// Every item, in the view's order.
    fn list(live: &Live) -> Vec<Self>;
}

/// The reply to `GET` of one item.
pub(crate) trait Named: Serialize + Send + Sized + 'static {
    /// The item called `name`.
    fn get(live: &Live, name: &str) -> Result<Self, ModelError>;
}

/// Every item.
pub(crate) async fn list<T: Listed>(State(state): State<AppState>, _: Viewer) -> Json<Vec<T>> {
    Json(T::list(&state.model().view()))
}

/// One item.
pub(crate) async fn one<T: Named>(
    State(state): State<AppState>,
    _: Viewer,
    Path(name): Path<String>,
) -> Result<Json<T>, ApiError> {
    Ok(Json(T::get(&state.model().view(), &name)?))
}

impl Listed for ApplicationSummary {
    fn list(live: &Live) -> Vec<Self> {
        live.app_summaries()
    }
}

impl Listed for ServerView {
    fn list(live: &Live) -> Vec<Self> {
        live.server_views()
    }
}

impl Listed for NodeView {
    fn list(live: &Live) -> Vec<Self> {
        live.node_views()
    }
}

/// With its source and expanded servers.
impl Named for ApplicationDetail {
    fn get(live: &Live, name: &str) -> Result<Self, ModelError> {
        live.application(name)
    }
}

/// With its descriptor.
impl Named for ServerDetail {
    fn get(live: &Live, id: &str) -> Result<Self, ModelError> {
        live.server(id)
    }
}

impl Named for NodeView {
    fn get(live: &Live, name: &str) -> Result<Self, ModelError> {
        live.node(name)
    }
}
