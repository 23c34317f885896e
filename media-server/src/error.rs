//! `ApiError`: what a handler answers when a request cannot be served, as the usual
//! `{"error": ...}` body with its status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grid_proto::api::ErrorBody;

use crate::library::{OpenError, Track};

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such track, stream or route (404).
    #[error("{0}")]
    NotFound(String),
    /// The request was malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// A render's stream asked for without its stream token (401).
    #[error("{0}")]
    Unauthorized(String),
    /// A render's stream asked for with another's token (403).
    #[error("{0}")]
    Forbidden(String),
    /// The route exists, not with this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A byte offset or range outside the track (416, with `content-range: bytes */SIZE`).
    #[error("{message}")]
    Unsatisfiable {
        /// What was wrong.
        message: String,
        /// The track's size.
        size: u64,
    },
    /// The server failed (500).
    #[error("{0}")]
    Internal(String),
    /// The server is overloaded for now (503): out of file descriptors, too many streams.
    #[error("{0}")]
    Unavailable(String),
}

impl ApiError {
    /// 404 for a track id that is not in the library (or not a track id at all).
    pub fn no_such_track(id: &str) -> Self {
        Self::NotFound(format!("no such track: {id}"))
    }

    /// 404 for a render without an open stream.
    pub fn no_such_stream(render: &str) -> Self {
        Self::NotFound(format!("no stream open for render {render}"))
    }

    /// The answer when `track`'s file cannot be opened: 404 if the snapshot is stale (the file
    /// is gone or changed since the scan), 503 when out of file descriptors, else 500; the
    /// message names the track and the error.
    pub fn cannot_open(track: &Track, error: &OpenError) -> Self {
        let id = &track.info.id;
        match error {
            OpenError::Stale(why) => Self::NotFound(format!("no such track: {id} ({why})")),
            _ if error.is_out_of_files() => Self::Unavailable(format!(
                "track {id} ({}) cannot be opened now: {error}",
                track.info.file
            )),
            OpenError::Io(_) => Self::Internal(format!(
                "track {id} ({}) cannot be opened: {error}",
                track.info.file
            )),
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unsatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!("{self}");
        }
        let size = match &self {
            Self::Unsatisfiable { size, .. } => Some(*size),
            _ => None,
        };
        let mut response = (
            status,
            Json(ErrorBody {
                error: self.to_string(),
                detail: None,
            }),
        )
            .into_response();
        if let Some(size) = size
            && let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}"))
        {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
        response
    }
}
