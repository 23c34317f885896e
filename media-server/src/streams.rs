//! The stream routes of the MediaServer interface: `open_stream`, `get_audio_chunk` (raw
//! chunks), the same stream as one streamed `/data` body, and `close_stream`.

use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;
use grid_proto::STREAM_TOKEN_HEADER;
use grid_proto::media::{CHUNK_SIZE, OpenStream, StreamOpened};
use grid_proto::metrics::prometheus_client::metrics::counter::Counter;
use grid_proto::secret::{self, Purpose};
use tracing::{info, warn};

use crate::error::ApiError;
use crate::params::PathParam;
use crate::pieces::Pieces;
use crate::state::{AppState, SharedState};
use crate::stream_table::{Stream, lock};

/// The largest chunk or piece a client may ask for.
pub const MAX_CHUNK: u64 = 1 << 20;
/// The longest render id accepted.
const MAX_RENDER_ID: usize = 128;

/// Header: the offset of a body's first byte.
pub const X_OFFSET: HeaderName = HeaderName::from_static("x-offset");
/// Header: the track's size.
pub const X_TRACK_SIZE: HeaderName = HeaderName::from_static("x-track-size");
/// Header: the id of the stream's track, so a render can tell its stream was replaced by one of
/// another track (another client reusing its render id, say) rather than read the wrong bytes.
pub const X_TRACK_ID: HeaderName = HeaderName::from_static("x-track-id");
const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

/// `?offset=N&size=S` of the chunk and data routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChunkQuery {
    offset: Option<u64>,
    size: u64,
    /// `/data` only: at most this many bytes in the body (a render asks for what its read-ahead
    /// has room for, so the kernel never holds more of the track than that).
    limit: Option<u64>,
}

impl ChunkQuery {
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut parsed = Self {
            offset: None,
            size: CHUNK_SIZE as u64,
            limit: None,
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || {
                value.parse::<u64>().map_err(|_| {
                    ApiError::BadRequest(format!(
                        "{key} must be a whole number of bytes, not {value:?}"
                    ))
                })
            };
            match key {
                "offset" => parsed.offset = Some(number()?),
                "size" => parsed.size = number()?,
                "limit" => parsed.limit = Some(number()?),
                _ => {}
            }
        }
        if parsed.limit == Some(0) {
            return Err(ApiError::BadRequest(
                "limit must be at least 1 byte (leave it out for the rest of the track)".into(),
            ));
        }
        if parsed.size == 0 || parsed.size > MAX_CHUNK {
            return Err(ApiError::BadRequest(format!(
                "size must be between 1 and {MAX_CHUNK} bytes, not {}",
                parsed.size
            )));
        }
        Ok(parsed)
    }
}

fn check_render_id(render: &str) -> Result<(), ApiError> {
    if render.is_empty() || render.len() > MAX_RENDER_ID || render.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "render_id must be 1 to {MAX_RENDER_ID} printable characters, not {render:?}"
        )));
    }
    Ok(())
}

/// `POST /v1/streams`: `open_stream`; replaces any stream of the render.
pub async fn streams_open(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<StreamOpened>, ApiError> {
    let open: OpenStream = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be an OpenStream {{track_id, render_id, offset}}: {e}"
        ))
    })?;
    check_render_id(&open.render_id)?;
    check_token(&state, &headers, &open.render_id)?;
    let track = state
        .snapshot()
        .get(&open.track_id)
        .cloned()
        .ok_or_else(|| ApiError::no_such_track(&open.track_id))?;
    if open.offset > track.info.size {
        return Err(ApiError::Unsatisfiable {
            message: format!(
                "offset {} is past the end of track {} ({} bytes)",
                open.offset, track.info.id, track.info.size
            ),
            size: track.info.size,
        });
    }
    let file = track
        .open()
        .map_err(|e| ApiError::cannot_open(&track, &e))?;
    let stream = Stream::new(
        open.render_id.clone(),
        Arc::clone(&track),
        file,
        open.offset,
    );
    let replaced = state.streams.insert(stream)?;
    state.metrics.streams_opened.inc();
    info!(
        "open_stream: render {} track {} {:?} at byte {} of {}{}",
        open.render_id,
        track.info.id,
        track.info.title,
        open.offset,
        track.info.size,
        if replaced {
            " (replacing its previous stream)"
        } else {
            ""
        }
    );
    Ok(Json(StreamOpened {
        render_id: open.render_id,
        track: track.info.clone(),
        offset: open.offset,
    }))
}

/// `GET /v1/streams/{render}/chunk`: `get_audio_chunk`, as raw bytes; empty at the
/// end of the track.
pub async fn streams_chunk(
    State(state): State<SharedState>,
    PathParam(render): PathParam,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    check_token(&state, &headers, &render)?;
    state.metrics.chunk_requests.inc();
    let query = ChunkQuery::parse(query.as_deref())?;
    let stream = state.streams.get(&render)?;
    let size = stream.size();
    // The range is taken under the position lock (so requests for one render never get the
    // same offset-less chunk) and read after it is released: no lock is held during the read.
    let (offset, len, before) = {
        let mut position = lock(&stream.position);
        let before = position.offset;
        let offset = query.offset.unwrap_or(before);
        if offset > size {
            return Err(stream.past_end(offset));
        }
        let len = query.size.min(size - offset);
        position.offset = offset + len;
        position.last_used = Instant::now();
        if len == 0 {
            stream.reached_end(&mut position);
        } else {
            position.at_end = false;
        }
        (offset, len, before)
    };
    // Read inline, on the server's one thread: a page-cache read of at most 1 MiB takes
    // microseconds, less than the hand-off to `spawn_blocking` would cost. (A cold read from a
    // slow disk stalls the other connections for its duration; that is the trade.)
    let mut buf = vec![0u8; usize::try_from(len).unwrap_or(usize::MAX)];
    if let Err(e) = stream.file.read_exact_at(&mut buf, offset) {
        // Unserved: the position goes back, unless another request moved it meanwhile.
        let mut position = lock(&stream.position);
        if position.offset == offset + len {
            position.offset = before;
        }
        return Err(ApiError::Internal(format!(
            "reading track {} at byte {offset}: {e}",
            stream.track.info.id
        )));
    }
    state.metrics.chunk_bytes.inc_by(len);
    let mut response = Response::new(Body::from(buf));
    stream_headers(&mut response, &stream, offset);
    Ok(response)
}

/// `GET /v1/streams/{render}/data`: the rest of the track from the offset (or `limit` bytes of
/// it), as one chunked body in pieces of `size` bytes; a clean end at the track's size is the
/// end of the track.
///
/// The stream's offset advances as pieces are handed to the HTTP layer, not as the client
/// receives them: hyper queues pieces and the kernel's socket buffers hold hundreds of KiB, so
/// when a body is cut (server stopping, connection reset, stream replaced) the offset may be
/// past the last byte the client got, and an offset-less `/chunk` or `/data` then would skip
/// bytes. The server cannot know what arrived (advancing only on a clean end, or one piece
/// late, would just trade the gap for a repeat), so clients that resume or fail over always
/// pass `offset` = the bytes they hold (the render does). The same holds for a `/chunk` reply
/// lost on the wire.
///
/// The pieces are read inline on the server's one thread, like chunks (see [`Pieces`]).
pub async fn streams_data(
    State(state): State<SharedState>,
    PathParam(render): PathParam,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    check_token(&state, &headers, &render)?;
    let query = ChunkQuery::parse(query.as_deref())?;
    let stream = state.streams.get(&render)?;
    let size = stream.size();
    let offset = {
        let mut position = lock(&stream.position);
        let offset = query.offset.unwrap_or(position.offset);
        if offset > size {
            return Err(stream.past_end(offset));
        }
        position.offset = offset;
        position.last_used = Instant::now();
        offset
    };
    let end = query
        .limit
        .map_or(size, |limit| size.min(offset.saturating_add(limit)));
    stream.bodies.fetch_add(1, Ordering::Relaxed);
    state.metrics.data_requests.inc();
    let body = DataBody {
        served: state.metrics.data_bytes.clone(),
        pieces: Pieces::new(Arc::clone(&stream.file), offset, end, query.size as usize),
        stream: Arc::clone(&stream),
        to_track_end: end == size,
        done: false,
    };
    let mut response = Response::new(Body::from_stream(futures_util::stream::iter(body)));
    stream_headers(&mut response, &stream, offset);
    Ok(response)
}

/// The headers of a chunk or `/data` reply: content type, `x-offset` (the first byte),
/// `x-track-size` and `x-track-id`.
fn stream_headers(response: &mut Response, stream: &Stream, offset: u64) {
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, OCTET_STREAM);
    headers.insert(X_OFFSET, HeaderValue::from(offset));
    headers.insert(X_TRACK_SIZE, HeaderValue::from(stream.size()));
    // Track ids are 16 hex digits (checked when the library was scanned), always a valid value.
    if let Ok(id) = HeaderValue::from_str(&stream.track.info.id) {
        headers.insert(X_TRACK_ID, id);
    }
}

/// The pieces of a `/data` body, moving the stream's position as they are handed to hyper
/// (read before the position lock is taken; see [`streams_data`] for what the position means
/// after a cut body).
struct DataBody {
    stream: Arc<Stream>,
    /// `mediaserver_served_bytes_total{route="data"}`.
    served: Counter,
    pieces: Pieces,
    /// The body runs to the end of the track (no `limit` short of it).
    to_track_end: bool,
    done: bool,
}

impl Iterator for DataBody {
    type Item = io::Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.stream.closed.load(Ordering::Relaxed) {
            self.done = true;
            return Some(Err(io::Error::other("the stream was closed")));
        }
        let piece = self.pieces.next_piece();
        let mut position = lock(&self.stream.position);
        position.offset = self.pieces.offset();
        position.last_used = Instant::now();
        match piece {
            Some(Ok(piece)) => {
                position.at_end = false;
                self.served.inc_by(piece.len() as u64);
                Some(Ok(piece))
            }
            Some(Err(e)) => {
                self.done = true;
                warn!(
                    "render {}: reading track {} at byte {} failed: {e}",
                    self.stream.render,
                    self.stream.track.info.id,
                    self.pieces.offset()
                );
                Some(Err(e))
            }
            None => {
                self.done = true;
                if self.to_track_end {
                    self.stream.reached_end(&mut position);
                }
                None
            }
        }
    }
}

impl Drop for DataBody {
    fn drop(&mut self) {
        lock(&self.stream.position).last_used = Instant::now();
        self.stream.bodies.fetch_sub(1, Ordering::Relaxed);
    }
}

/// `DELETE /v1/streams/{render}`: `close_stream`. Closing a stream that is not
/// open (already reaped, say) is not an error.
pub async fn streams_close(
    State(state): State<SharedState>,
    PathParam(render): PathParam,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    check_token(&state, &headers, &render)?;
    if let Some(stream) = state.streams.remove(&render) {
        info!(
            "close_stream: render {render} track {} at byte {}",
            stream.track.info.id,
            lock(&stream.position).offset
        );
    }
    Ok(Json(serde_json::json!({})))
}

/// Refuses a request on `render`'s stream that lacks its stream token, when this server holds
/// the grid's service key (it was started by a node).
fn check_token(state: &AppState, headers: &HeaderMap, render: &str) -> Result<(), ApiError> {
    let Some(key) = &state.service_key else {
        return Ok(());
    };
    match headers.get(STREAM_TOKEN_HEADER) {
        None => Err(ApiError::Unauthorized(format!(
            "the stream of {render} needs its stream token ({STREAM_TOKEN_HEADER})"
        ))),
        Some(v) if secret::check(key, Purpose::Stream, render, v.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::Forbidden(format!(
            "refused: that is not the stream token of {render}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_queries_default_and_bound_the_size() {
        assert_eq!(
            ChunkQuery::parse(None).unwrap(),
            ChunkQuery {
                offset: None,
                size: 4096,
                limit: None,
            }
        );
        assert_eq!(
            ChunkQuery::parse(Some("offset=10&size=65536&limit=99&x=1")).unwrap(),
            ChunkQuery {
                offset: Some(10),
                size: 65_536,
                limit: Some(99),
            }
        );
        for bad in [
            "size=0",
            "size=1048577",
            "offset=-1",
            "offset=abc",
            "size=",
            "limit=0",
        ] {
            let err = ChunkQuery::parse(Some(bad)).unwrap_err();
            assert!(matches!(err, ApiError::BadRequest(_)), "{bad}: {err}");
        }
    }

    #[test]
    fn render_ids_are_printable_and_short() {
        assert!(check_render_id("MediaRender-1").is_ok());
        assert!(check_render_id("").is_err());
        assert!(check_render_id("a\nb").is_err());
        assert!(check_render_id(&"x".repeat(129)).is_err());
    }
}
