//! The render's HTTP control API (`docs/media.md`): load, transport controls, queue, status, and
//! `GET /listen`, an audio stream of what it plays.

use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use grid_proto::api::ErrorBody;
use grid_proto::icy::{self, Framer, Metadata};
use grid_proto::live::ChannelRef;
use grid_proto::media::{RenderStatus, TrackInfo, TrackRef};
use grid_proto::paths;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

use crate::error::PlayError;
use crate::player::{Action, PlayerHandle};
use crate::sink::NowPlaying;

/// `icy-metaint` of `/listen` for a player that asks for metadata.
pub const LISTEN_METAINT: usize = 16_000;

/// `GET` liveness: [`Health`].
pub const HEALTH: &str = "/v1/health";

/// `GET /v1/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Always `ok` while the render answers.
    pub status: String,
    /// Server id.
    pub server: String,
}

/// The handlers' shared state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Server id.
    pub id: String,
    /// The player.
    pub player: PlayerHandle,
    /// Flips to true when the render stops: `/listen` streams end so shutdown is not held up.
    pub stopping: watch::Receiver<bool>,
    /// The counters of `GET /metrics`.
    pub metrics: std::sync::Arc<crate::metrics::RenderMetrics>,
    /// Who may drive the render.
    pub control: std::sync::Arc<crate::control_auth::ControlAuth>,
}

/// The HTTP API, without a socket.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(HEALTH, get(health))
        .route(paths::RENDER_STATUS, get(status))
        .route(paths::RENDER_LOAD, post(load))
        .route(paths::RENDER_CHANNEL, post(channel))
        .route(
            paths::RENDER_QUEUE,
            get(queue_list).post(queue_add).delete(queue_clear),
        )
        .route(paths::RENDER_ACTION, post(action))
        .route(paths::RENDER_LISTEN, get(listen))
        .route(paths::METRICS, get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.control.clone(),
            crate::control_auth::guard,
        ))
        .with_state(state)
}

/// `GET /metrics`: open, like every read of a render.
async fn metrics(State(state): State<AppState>) -> Response {
    match state.metrics.encode(state.player.status()) {
        Ok(text) => (
            [(header::CONTENT_TYPE, grid_proto::metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(ErrorBody {
                error: format!("encoding the metrics: {e}"),
                detail: None,
            }),
        )
            .into_response(),
    }
}

async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        server: state.id.clone(),
    })
}

async fn status(State(state): State<AppState>) -> Json<RenderStatus> {
    Json(state.player.status())
}

/// Reads `{track_id}` with an error that says what the body should be.
fn track_ref(body: &[u8]) -> Result<String, PlayError> {
    serde_json::from_slice::<TrackRef>(body)
        .map(|r| r.track_id)
        .map_err(|e| {
            PlayError::BadRequest(format!(
                "the body must be JSON {{\"track_id\": \"<16 hex digits>\"}}: {e}"
            ))
        })
}

/// A body that cannot be read, as a JSON error.
fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, PlayError> {
    body.map_err(|e| {
        PlayError::Rejected(
            e.status(),
            format!("cannot read the body: {}", e.body_text()),
        )
    })
}

async fn load(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<RenderStatus>, PlayError> {
    let id = track_ref(&body(raw)?)?;
    state.player.load(id).await.map(Json)
}

async fn channel(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<RenderStatus>, PlayError> {
    let raw = body(raw)?;
    let r: ChannelRef = serde_json::from_slice(&raw).map_err(|e| {
        PlayError::BadRequest(format!(
            "the body must be JSON {{\"name\": \"<channel>\"}}: {e}"
        ))
    })?;
    state.player.channel(r.name).await.map(Json)
}

async fn action(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<RenderStatus>, PlayError> {
    let Path(name) =
        name.map_err(|e| PlayError::Rejected(e.status(), format!("bad path: {}", e.body_text())))?;
    let action = Action::parse(&name).ok_or_else(|| {
        PlayError::NotFound(format!(
            "no such action: {name} (play, pause, resume, stop, next)"
        ))
    })?;
    state.player.act(action).await.map(Json)
}

async fn queue_list(State(state): State<AppState>) -> Result<Json<Vec<TrackInfo>>, PlayError> {
    state.player.queue().await.map(Json)
}

async fn queue_add(
    State(state): State<AppState>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<TrackInfo>>, PlayError> {
    let id = track_ref(&body(raw)?)?;
    state.player.queue_add(id).await.map(Json)
}

async fn queue_clear(State(state): State<AppState>) -> Result<Json<Vec<TrackInfo>>, PlayError> {
    state.player.queue_clear().await.map(Json)
}

/// The metadata block of `title` (cut to fit a block if it must).
fn title_block(title: &str) -> Bytes {
    let mut meta = Metadata::title(title);
    meta.truncate_to_fit();
    icy::encode_metadata(&meta).unwrap_or_else(|_| Bytes::from_static(icy::EMPTY_BLOCK))
}

/// One `/listen` client's ICY framing: every block carries the current title.
struct IcyFraming {
    framer: Framer,
    now: watch::Receiver<NowPlaying>,
    block: Bytes,
}

impl IcyFraming {
    fn new(mut now: watch::Receiver<NowPlaying>) -> Self {
        let block = title_block(&now.borrow_and_update().title);
        let metaint = std::num::NonZeroUsize::new(LISTEN_METAINT).expect("not zero");
        Self {
            framer: Framer::new(metaint),
            now,
            block,
        }
    }

    fn frame(&mut self, audio: &Bytes) -> Bytes {
        if self.now.has_changed().unwrap_or(false) {
            self.block = title_block(&self.now.borrow_and_update().title);
        }
        self.framer.set_metadata(self.block.clone());
        let mut out = bytes::BytesMut::with_capacity(audio.len() + self.block.len());
        self.framer
            .push(audio, |piece| out.extend_from_slice(&piece));
        out.freeze()
    }
}

/// Whether a player asked for interleaved metadata (`Icy-MetaData: 1`).
fn wants_metadata(headers: &HeaderMap) -> bool {
    headers
        .get("icy-metadata")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "1")
}

/// What the render plays from now on, as `audio/mpeg`; a client that falls behind skips ahead.
/// A client that sends `Icy-MetaData: 1` gets ICY framing: `icy-metaint`, `icy-name` (the
/// channel, or the render for a track) and the title in the metadata blocks.
async fn listen(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (burst, rx) = state.player.listen();
    let stopping = state.stopping.clone();
    let icy = wants_metadata(&headers).then(|| IcyFraming::new(state.player.now()));
    let name = {
        let now = state.player.now();
        let name = now.borrow().name.clone();
        if name.is_empty() {
            state.id.clone()
        } else {
            name
        }
    };
    let framed = icy.is_some();
    let guard = Listener::joined(framed);
    let stream = futures_util::stream::unfold(
        (rx, stopping, guard, icy, burst.into_iter()),
        |(mut rx, mut stopping, mut guard, mut icy, mut burst)| async move {
            // The burst first, so the player starts at once; then the live bytes.
            if let Some(bytes) = burst.next() {
                let bytes = match icy.as_mut() {
                    Some(f) => f.frame(&bytes),
                    None => bytes,
                };
                return Some((
                    Ok::<_, Infallible>(bytes),
                    (rx, stopping, guard, icy, burst),
                ));
            }
            loop {
                if *stopping.borrow() {
                    return None;
                }
                tokio::select! {
                    got = rx.recv() => match got {
                        Ok(bytes) => {
                            let bytes = match icy.as_mut() {
                                Some(f) => f.frame(&bytes),
                                None => bytes,
                            };
                            return Some((Ok::<_, Infallible>(bytes), (rx, stopping, guard, icy, burst)));
                        }
                        Err(RecvError::Lagged(n)) => guard.lagged(n),
                        Err(RecvError::Closed) => return None,
                    },
                    _ = stopping.changed() => {}
                }
            }
        },
    );
    let mut reply = HeaderMap::new();
    reply.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/mpeg"));
    reply.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if framed {
        reply.insert("icy-metaint", HeaderValue::from(LISTEN_METAINT));
        reply.insert("icy-pub", HeaderValue::from_static("0"));
        if let Ok(v) = HeaderValue::from_str(&name) {
            reply.insert("icy-name", v);
        }
    }
    (reply, Body::from_stream(stream)).into_response()
}

/// One `/listen` client: a log line when it joins and when it leaves (its body is dropped).
struct Listener {
    /// Releases skipped while it lagged.
    skipped: u64,
}

impl Listener {
    fn joined(icy: bool) -> Self {
        if icy {
            tracing::info!("/listen: a listener joined (ICY metadata)");
        } else {
            tracing::info!("/listen: a listener joined");
        }
        Self { skipped: 0 }
    }

    /// The client fell behind by `n` releases and skips ahead.
    fn lagged(&mut self, n: u64) {
        self.skipped += n;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        tracing::info!(
            "/listen: a listener left ({} releases skipped while it lagged)",
            self.skipped
        );
    }
}

async fn not_found(uri: Uri) -> (StatusCode, Json<ErrorBody>) {
    (
        StatusCode::NOT_FOUND,
        Json(ErrorBody {
            error: format!("no such route: {}", uri.path()),
            detail: None,
        }),
    )
}

async fn method_not_allowed(method: Method, uri: Uri) -> (StatusCode, Json<ErrorBody>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(ErrorBody {
            error: format!("{method} is not allowed on {}", uri.path()),
            detail: None,
        }),
    )
}
