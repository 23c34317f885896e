//! The request extractors: a JSON body, an admin session, a node's cluster secret.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

use super::error::ApiError;
use crate::state::AppState;

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
        if grid_proto::secret::eq(given, state.secret().as_bytes()) {
            Ok(Self)
        } else {
            Err(ApiError::Unauthorized("unknown cluster secret".into()))
        }
    }
}
