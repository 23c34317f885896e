//! The gateway: a session reaches a server's own API (a render's controls and `/listen`, the
//! library, the channels) through the registry, the way IceGrid clients outside the grid go
//! through Glacier2. The browser then needs one origin and one session, and the servers' ports
//! need not be reachable from where it runs.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use grid_proto::access::Role;
use grid_proto::secret::{self, Purpose};

use super::error::ApiError;
use super::extract::{Viewer, require};
use crate::state::AppState;

/// How long a server gets to answer a control request (a render's `load` locates a MediaServer
/// and opens a stream before it answers).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// The request headers a server's API reads.
const REQUEST_HEADERS: [header::HeaderName; 3] =
    [header::CONTENT_TYPE, header::RANGE, header::ACCEPT];

/// The answer headers a browser needs: the type, the size and ranges of track audio.
const ANSWER_HEADERS: [header::HeaderName; 4] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
];

/// True for the paths the gateway forwards: the servers' APIs and their listener streams.
fn forwarded(path: &str) -> bool {
    path.starts_with("v1/") || path == "listen" || path.starts_with("live/")
}

/// True for an answer that never ends by itself (audio for a player).
fn endless(path: &str) -> bool {
    path == "listen" || path.starts_with("live/")
}

/// Forwards the request to the first live endpoint of `id` that answers.
pub(crate) async fn forward(
    State(state): State<AppState>,
    Viewer(caller): Viewer,
    Path((id, path)): Path<(String, String)>,
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    if !method.is_safe() {
        require(
            caller,
            Role::Operator,
            &format!("{method} through the gateway"),
        )?;
    }
    if !forwarded(&path) {
        return Err(ApiError::NotFound(format!(
            "the gateway forwards /v1/…, /listen and /live/… only, not /{path}"
        )));
    }
    let located = super::locator::answer(&state, id.clone()).await?;
    if located.endpoints.is_empty() {
        return Err(ApiError::Unavailable(format!(
            "{id} is not running: no live endpoint"
        )));
    }
    let mut last = String::new();
    for ep in &located.endpoints {
        let mut url = format!("{}/{path}", ep.endpoint.trim_end_matches('/'));
        if let Some(q) = &query {
            url.push('?');
            url.push_str(q);
        }
        // The session's role was checked above; the server takes this as the registry's word.
        let control = secret::token(state.service_key(), Purpose::Control, &ep.server);
        let mut req = state
            .gateway_client()
            .request(method.clone(), &url)
            .header(grid_proto::CONTROL_TOKEN_HEADER, control);
        for name in &REQUEST_HEADERS {
            if let Some(v) = headers.get(name) {
                req = req.header(name, v);
            }
        }
        if !endless(&path) {
            req = req.timeout(ANSWER_TIMEOUT);
        }
        match req.body(body.clone()).send().await {
            Ok(answer) => return Ok(relay(answer)),
            // Not reached at all: the next replica may answer.
            Err(e) if e.is_connect() => {
                last = format!("{} at {} does not answer", ep.server, ep.endpoint);
            }
            Err(e) if e.is_timeout() => {
                return Err(ApiError::Unavailable(format!(
                    "{} did not answer within {} s",
                    ep.server,
                    ANSWER_TIMEOUT.as_secs()
                )));
            }
            Err(e) => {
                return Err(ApiError::Unavailable(format!("{}: {e}", ep.server)));
            }
        }
    }
    Err(ApiError::Unavailable(last))
}

/// The server's answer, its body streamed as it comes.
fn relay(answer: reqwest::Response) -> Response {
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut headers = HeaderMap::new();
    for name in &ANSWER_HEADERS {
        if let Some(v) = answer.headers().get(name) {
            headers.insert(name, v.clone());
        }
    }
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    let mut resp = Response::new(Body::from_stream(answer.bytes_stream()));
    *resp.status_mut() = status;
    *resp.headers_mut() = headers;
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_servers_apis_and_streams_are_forwarded() {
        let cases = [
            ("v1/status", true),
            ("listen", true),
            ("live/radio", true),
            ("metrics", false),
            ("../v1", false),
        ];
        for (path, want) in cases {
            assert_eq!(forwarded(path), want, "{path}");
        }
        assert!(endless("live/radio") && !endless("v1/load"));
    }
}
