//! Why a render command failed, and how that reads on the wire.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use grid_proto::api::ErrorBody;
use grid_proto::ids::IdError;

/// A failed control command of the render.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    /// No MediaServer of the group answered.
    #[error("no MediaServer of {group} is reachable: {reason}")]
    NoServer {
        /// The replica group.
        group: String,
        /// The last failure, in words.
        reason: String,
    },
    /// The MediaServers do not know the track.
    #[error("no such track: {0}")]
    UnknownTrack(String),
    /// The command makes no sense in the current state.
    #[error("{0}")]
    State(String),
    /// No such route or action.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// The request was rejected before it was read (a path that does not decode, a body too
    /// large), with axum's status.
    #[error("{1}")]
    Rejected(StatusCode, String),
    /// Something inside the render failed (a thread could not start).
    #[error("{0}")]
    Internal(String),
    /// The player task is gone (the render is stopping).
    #[error("the player is stopping")]
    Gone,
}

/// A track id or channel name that is not one: refused before any server is asked.
impl From<IdError> for PlayError {
    fn from(e: IdError) -> Self {
        Self::BadRequest(e.to_string())
    }
}

impl IntoResponse for PlayError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::UnknownTrack(_) | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::State(_) => StatusCode::CONFLICT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Rejected(status, _) => *status,
            Self::NoServer { .. } => StatusCode::BAD_GATEWAY,
            Self::Gone => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            Json(ErrorBody {
                error: self.to_string(),
                detail: None,
            }),
        )
            .into_response()
    }
}
