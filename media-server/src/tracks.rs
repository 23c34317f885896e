//! The library's routes: the track list, one track's info, and a track's audio with HTTP
//! Range support, so media players can play and seek a track straight from here.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_RANGE, RANGE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use grid_proto::media::TrackInfo;

use crate::error::ApiError;
use crate::library::Track;
use crate::params::PathParam;
use crate::pieces::Pieces;
use crate::state::SharedState;

/// Piece size of an audio body.
const AUDIO_PIECE: usize = 64 * 1024;

/// `GET /v1/tracks`: every track, sorted by artist, album, title.
pub async fn tracks_list(State(state): State<SharedState>) -> Response {
    let library = state.snapshot();
    let infos: Vec<&TrackInfo> = library.tracks().iter().map(|t| &t.info).collect();
    Json(infos).into_response()
}

/// `GET /v1/tracks/{id}`: a track's information (`get_track_info`).
pub async fn tracks_get(
    State(state): State<SharedState>,
    PathParam(id): PathParam,
) -> Result<Json<TrackInfo>, ApiError> {
    Ok(Json(find(&state, &id)?.info.clone()))
}

fn find(state: &SharedState, id: &str) -> Result<Arc<Track>, ApiError> {
    state
        .snapshot()
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::no_such_track(id))
}

/// What a `Range` header asks of a body of `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// All of it (no Range, one we ignore, or several ranges, which players never send).
    Whole,
    /// `start..end`.
    Part(u64, u64),
    /// Nothing of it exists.
    Unsatisfiable,
}

impl Wanted {
    /// Parses a single byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`). Syntax it cannot
    /// read is ignored, as RFC 9110 allows, and the whole body is sent.
    fn parse(range: &str, size: u64) -> Self {
        let Some(spec) = range.trim().strip_prefix("bytes=") else {
            return Self::Whole;
        };
        if spec.contains(',') {
            return Self::Whole;
        }
        let Some((first, last)) = spec.trim().split_once('-') else {
            return Self::Whole;
        };
        let (first, last) = (first.trim(), last.trim());
        if first.is_empty() {
            return match last.parse::<u64>() {
                Ok(0) => Self::Unsatisfiable,
                Ok(_) if size == 0 => Self::Unsatisfiable,
                Ok(n) => Self::Part(size.saturating_sub(n), size),
                Err(_) => Self::Whole,
            };
        }
        let Ok(start) = first.parse::<u64>() else {
            return Self::Whole;
        };
        let end = if last.is_empty() {
            size
        } else {
            match last.parse::<u64>() {
                Ok(last) if last >= start => last.saturating_add(1).min(size),
                _ => return Self::Whole,
            }
        };
        if start >= size {
            Self::Unsatisfiable
        } else {
            Self::Part(start, end)
        }
    }
}

/// `GET`/`HEAD /v1/tracks/{id}/audio`: the file, or the part a `Range` asks for.
pub async fn tracks_audio(
    State(state): State<SharedState>,
    PathParam(id): PathParam,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let track = find(&state, &id)?;
    let size = track.info.size;
    let etag = format!("\"{}\"", track.info.id);
    // A Range with an If-Range for another version of the file gets the whole new file.
    let same_version = headers
        .get(IF_RANGE)
        .is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let wanted = match headers.get(RANGE).and_then(|v| v.to_str().ok()) {
        Some(range) if same_version => Wanted::parse(range, size),
        _ => Wanted::Whole,
    };
    let (status, start, end) = match wanted {
        Wanted::Whole => (StatusCode::OK, 0, size),
        Wanted::Part(start, end) => (StatusCode::PARTIAL_CONTENT, start, end),
        Wanted::Unsatisfiable => {
            return Err(ApiError::Unsatisfiable {
                message: format!(
                    "range {:?} is outside track {} ({size} bytes)",
                    headers
                        .get(RANGE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default(),
                    track.info.id
                ),
                size,
            });
        }
    };
    let file = track
        .open()
        .map_err(|e| ApiError::cannot_open(&track, &e))?;
    let pieces = Pieces::new(Arc::new(file), start, end, AUDIO_PIECE);
    let served = state.metrics.audio_bytes.clone();
    let body = futures_util::stream::iter(std::iter::from_fn({
        let mut pieces = pieces;
        move || {
            let piece = pieces.next_piece();
            if let Some(Ok(p)) = &piece {
                served.inc_by(p.len() as u64);
            }
            piece
        }
    }));
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    let out = response.headers_mut();
    out.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(CONTENT_LENGTH, HeaderValue::from(end - start));
    if let Ok(value) = HeaderValue::from_str(&track.info.content_type) {
        out.insert(CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(ETAG, value);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{}/{size}", end - 1))
    {
        out.insert(CONTENT_RANGE, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_are_read_and_the_rest_ignored() {
        use Wanted::*;
        let size = 1000;
        for (range, wanted) in [
            ("bytes=0-99", Part(0, 100)),
            ("bytes=900-", Part(900, 1000)),
            ("bytes=900-5000", Part(900, 1000)),
            ("bytes=-100", Part(900, 1000)),
            ("bytes=-5000", Part(0, 1000)),
            ("bytes=999-999", Part(999, 1000)),
            ("bytes=1000-", Unsatisfiable),
            ("bytes=1000-1001", Unsatisfiable),
            ("bytes=-0", Unsatisfiable),
            ("bytes=5-1", Whole),
            ("bytes=0-1,5-6", Whole),
            ("items=0-1", Whole),
            ("bytes=x-1", Whole),
            ("bytes=", Whole),
        ] {
            assert_eq!(Wanted::parse(range, size), wanted, "{range}");
        }
    }
}
