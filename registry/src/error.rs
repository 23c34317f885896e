//! The API error type and the request extractors that produce it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use grid_proto::api::ErrorBody;
use grid_proto::client::ClientError;

use crate::state::AppState;

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

/// A JSON body whose rejection is an [`ApiError`] in our shape.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(r) => Err(ApiError::BadRequest(
                format!("bad request body: {}", r.body_text()),
                None,
            )),
        }
    }
}

/// An authenticated admin (bearer token from `POST /v1/sessions`).
#[derive(Debug)]
pub struct Admin(
    /// The user name.
    pub String,
);

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| ApiError::Unauthorized("log in first: no session token".into()))?;
        state.auth().session_user(token).map(Admin).ok_or_else(|| {
            ApiError::Unauthorized("the session has expired or is unknown; log in again".into())
        })
    }
}

/// A node that presented the cluster secret.
#[derive(Debug)]
pub struct NodeAuth;

impl FromRequestParts<AppState> for NodeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let given = parts
            .headers
            .get(grid_proto::SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if crate::auth::same(given, state.secret().as_bytes()) {
            Ok(Self)
        } else {
            Err(ApiError::Unauthorized("unknown cluster secret".into()))
        }
    }
}
