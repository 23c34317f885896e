//! The API's error answer, and the one place that maps the model's and the nodes' errors to
//! an HTTP status and body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use grid_proto::api::ErrorBody;
use grid_proto::client::ClientError;

use crate::auth::{AuthError, UserError};
use crate::model::ModelError;
use crate::node_link::LinkError;

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with optional detail.
    #[error("{0}")]
    BadRequest(String, Option<serde_json::Value>),
    /// 401.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a session, but a request it did not make (no CSRF token).
    #[error("{0}")]
    Forbidden(String),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 413: a request body past `--max-body`.
    #[error("{0}")]
    TooLarge(String),
    /// 429 with `retry-after` (whole seconds): repeated failed logins.
    #[error("{0}")]
    TooMany(String, u64),
    /// 502/503: a node could not be reached or failed.
    #[error("{0}")]
    Unavailable(String),
    /// 500; the detail is logged, never sent.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        let message = e.to_string();
        match e {
            ModelError::InvalidDescriptor(d) => Self::BadRequest(
                message,
                Some(serde_json::json!({ "field": d.field, "reason": d.reason })),
            ),
            ModelError::NameMismatch { .. } => {
                Self::BadRequest(message, Some(serde_json::json!({ "field": "name" })))
            }
            ModelError::Taken { .. } | ModelError::AppExists(_) | ModelError::Disabled(_) => {
                Self::Conflict(message)
            }
            ModelError::UnknownApp(_)
            | ModelError::UnknownServer(_)
            | ModelError::UnknownNode(_)
            | ModelError::MustRegister(_)
            | ModelError::NotOnNode { .. }
            | ModelError::UnknownLocate(_) => Self::NotFound(message),
            ModelError::NodeUnregistered(_)
            | ModelError::NodeDown(_)
            | ModelError::ActivationTimeout(_) => Self::Unavailable(message),
            ModelError::Store(e) => Self::Internal(e.into()),
        }
    }
}

/// A failed call to a node keeps the node's own message.
impl From<LinkError> for ApiError {
    fn from(e: LinkError) -> Self {
        let (node, source) = match e {
            LinkError::Model(e) => return e.into(),
            LinkError::Node { node, source } => (node, source),
        };
        match source {
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

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Denied => Self::Unauthorized(e.to_string()),
            AuthError::Throttled { retry_after_s, .. } => {
                Self::TooMany(e.to_string(), retry_after_s)
            }
            AuthError::Internal(m) => Self::Internal(anyhow::anyhow!(m)),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        let message = e.to_string();
        match e {
            UserError::NoSuchUser(_) | UserError::NoSuchSession(_) => Self::NotFound(message),
            UserError::Exists(_) | UserError::LastAdmin(_) => Self::Conflict(message),
            UserError::Invalid(_) => Self::BadRequest(message, None),
            UserError::WrongPassword | UserError::NotYours(_) => Self::Forbidden(message),
            UserError::Throttled(a) => a.into(),
            UserError::Internal(m) => Self::Internal(anyhow::anyhow!(m)),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = match &self {
            Self::TooMany(_, secs) => Some(*secs),
            _ => None,
        };
        let (status, detail) = match &self {
            Self::BadRequest(_, d) => (StatusCode::BAD_REQUEST, d.clone()),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, None),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, None),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, None),
            Self::Conflict(_) => (StatusCode::CONFLICT, None),
            Self::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, None),
            Self::TooMany(..) => (StatusCode::TOO_MANY_REQUESTS, None),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, None),
            Self::Internal(e) => {
                tracing::error!(cause = %format!("{e:#}"), "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, None)
            }
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: self.to_string(),
                detail,
            }),
        )
            .into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}
