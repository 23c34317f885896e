//! The live channel routes: their stats, the slow path of `GET /live/{name}`, and the control
//! port's info. The channels themselves are [`crate::live`].

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use grid_proto::live::ChannelStats;

use crate::error::ApiError;
use crate::live::{self, control::ControlInfo};
use crate::state::SharedState;

/// `GET /v1/channels`.
pub async fn channels_list(State(state): State<SharedState>) -> Json<Vec<ChannelStats>> {
    Json(state.live.channels().iter().map(|c| c.stats()).collect())
}

/// `GET /v1/channels/{name}`.
pub async fn channels_get(
    State(state): State<SharedState>,
    Path(name): Path<String>,
) -> Result<Json<ChannelStats>, ApiError> {
    state
        .live
        .get(&name)
        .map(|c| Json(c.stats()))
        .ok_or_else(|| ApiError::NotFound(format!("no such channel: {name}")))
}

/// `GET /live/{name}` when it reaches the HTTP stack rather than the front: an unknown channel
/// (404), or a listener that asked on a connection already used for another request (served
/// the same bytes through the slow path, [`live::slow_path`]).
pub async fn live_via_http(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let channel = state
        .live
        .get(&name)
        .ok_or_else(|| ApiError::NotFound(format!("no such channel: {name}")))?;
    let icy = headers
        .get("icy-metadata")
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1");
    let mut response = Response::builder().status(StatusCode::OK);
    for (name, value) in channel.http_headers(icy) {
        response = response.header(name, value);
    }
    let body = Body::from_stream(live::slow_path::body_stream(
        Arc::clone(channel),
        icy,
        state.live.tick,
    ));
    response
        .body(body)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// `GET /v1/control`.
pub async fn control_info(State(state): State<SharedState>) -> Json<ControlInfo> {
    Json(match &state.control {
        Some(c) => ControlInfo {
            addr: Some(c.addr.to_string()),
            udp_from: c.udp_from().map(|a| a.to_string()),
            clients: c.clients() as u64,
            max_clients: c.max_clients() as u64,
        },
        None => ControlInfo {
            addr: None,
            udp_from: None,
            clients: 0,
            max_clients: 0,
        },
    })
}
