//! The API's error answer and how the errors of the store and the nodes map to it.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use grid_proto::api::ErrorBody;
use grid_proto::client::ClientError;

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with optional detail.
    #[error("{0}")]
    BadRequest(String, Option<serde_json::Value>),
    /// 401.
    #[error("{0}")]
    Unauthorized(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 502/503: a node could not be reached or failed.
    #[error("{0}")]
    Unavailable(String),
    /// 500; the detail is logged, never sent.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// Maps a failed call to a node, keeping the node's own message.
    pub fn from_node(node: &str, e: ClientError) -> Self {
        match e {
            ClientError::Api {
                status: 404,
                message,
                ..
            } => Self::NotFound(message),
            ClientError::Api {
                status, message, ..
            } if (400..500).contains(&status) => Self::Conflict(message),
            ClientError::Api { message, .. } => {
                Self::Unavailable(format!("node {node}: {message}"))
            }
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Internal(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, detail) = match &self {
            Self::BadRequest(_, d) => (StatusCode::BAD_REQUEST, d.clone()),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, None),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, None),
            Self::Conflict(_) => (StatusCode::CONFLICT, None),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
            Self::Internal(e) => {
                tracing::error!(cause = %format!("{e:#}"), "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, None)
            }
        };
        (
            status,
            Json(ErrorBody {
                error: self.to_string(),
                detail,
            }),
        )
            .into_response()
    }
}
