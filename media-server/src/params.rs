//! `PathParam`: the one `{placeholder}` of a route. A segment that does not decode (bad UTF-8,
//! say) names nothing here, so it is a 404 like any unknown id, in the usual error shape.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::error::ApiError;

/// The decoded value of the route's single placeholder.
#[derive(Debug, Clone)]
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(_) => Err(ApiError::NotFound(format!(
                "nothing at {}",
                parts.uri.path()
            ))),
        }
    }
}
