//! The render's side of the MediaServer contract (`docs/media.md`): track info, open and close a
//! stream, its streamed `/data` body and `get_audio_chunk`.
//!
//! Every failure is reduced to [`CallError`]: the server's own "not found" (a definite answer
//! about the track), or anything else, which the fetch task treats as a dead server.

use std::time::Duration;

use bytes::Bytes;
use grid_proto::api::ErrorBody;
use grid_proto::error::http_cause;
use grid_proto::media::{OpenStream, ServerRef, StreamOpened, TrackInfo};
use grid_proto::paths;
use serde::de::DeserializeOwned;

/// A dead server is seen at once on loopback (refused); a remote one that does not answer the
/// SYN in this long is as good as dead.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// A JSON call or one chunk that takes longer than this is a stuck server.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a call to a MediaServer failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The server answered 404 (no such track, or no such stream), with its message.
    #[error("{0}")]
    NotFound(String),
    /// Unreachable, reset, timed out, an error status or an answer that cannot be read.
    #[error("{0}")]
    Failed(String),
    /// The server's stream for this render is of another track (a stale `open_stream` landed
    /// after the current one): its bytes must not be used; open the stream again there.
    #[error("{0}")]
    WrongTrack(String),
}

/// An HTTP client for MediaServers, shared by every call of the render.
#[derive(Debug, Clone)]
pub struct MediaClient {
    http: reqwest::Client,
    /// Sent with every call on this render's stream, when the render has one.
    stream_token: Option<String>,
}

impl MediaClient {
    /// A client with short connect and call timeouts (a body read has its own, in the fetcher).
    pub fn new() -> anyhow::Result<Self> {
        let builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .pool_idle_timeout(grid_proto::client::POOL_IDLE);
        // The node (its events) speaks TLS when the grid does.
        let http = grid_proto::tls::with_grid_ca(builder)?.build()?;
        Ok(Self {
            http,
            stream_token: None,
        })
    }

    /// Sends `token` with every call on the render's stream (a MediaServer started by a node
    /// refuses them without it).
    pub fn with_stream_token(mut self, token: Option<String>) -> Self {
        self.stream_token = token;
        self
    }

    /// `req` with the stream token, if any.
    fn on_stream(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.stream_token {
            Some(t) => req.header(grid_proto::STREAM_TOKEN_HEADER, t),
            None => req,
        }
    }

    /// The underlying client (the event forwarder shares its pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    async fn send(
        &self,
        server: &ServerRef,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CallError> {
        let resp = req
            .header(grid_proto::PROTOCOL_HEADER, grid_proto::PROTOCOL_VERSION)
            .send()
            .await
            .map_err(|e| {
                CallError::Failed(format!("{} is unreachable: {}", server.id, http_cause(&e)))
            })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_owned());
        if status == reqwest::StatusCode::NOT_FOUND {
            Err(CallError::NotFound(message))
        } else {
            Err(CallError::Failed(format!(
                "{} answered {}: {message}",
                server.id,
                status.as_u16()
            )))
        }
    }

    async fn json<T: DeserializeOwned>(
        &self,
        server: &ServerRef,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CallError> {
        let resp = self.send(server, req.timeout(CALL_TIMEOUT)).await?;
        let body = resp.bytes().await.map_err(|e| {
            CallError::Failed(format!("{} broke off: {}", server.id, http_cause(&e)))
        })?;
        serde_json::from_slice(&body).map_err(|e| {
            CallError::Failed(format!("{} answered something unreadable: {e}", server.id))
        })
    }

    fn url(server: &ServerRef, path: &str) -> String {
        format!("{}{path}", server.endpoint.trim_end_matches('/'))
    }

    /// `GET route?query` of `render`'s stream on `server`.
    fn stream_get(
        &self,
        server: &ServerRef,
        route: &str,
        render: &str,
        query: &str,
    ) -> reqwest::RequestBuilder {
        let url = Self::url(server, &paths::fill(route, &[render]));
        self.on_stream(self.http.get(format!("{url}?{query}")))
    }

    /// `get_track_info`: the track's information.
    pub async fn track_info(&self, server: &ServerRef, id: &str) -> Result<TrackInfo, CallError> {
        let url = Self::url(server, &paths::fill(paths::MEDIA_TRACK, &[id]));
        self.json(server, self.http.get(url)).await
    }

    /// `open_stream` at `offset`.
    pub async fn open_stream(
        &self,
        server: &ServerRef,
        open: &OpenStream,
    ) -> Result<StreamOpened, CallError> {
        let url = Self::url(server, paths::MEDIA_STREAMS);
        self.json(server, self.on_stream(self.http.post(url).json(open)))
            .await
    }

    /// `GET /live/{name}` with `Icy-MetaData: 1`: the reply once its head is in (a head slower
    /// than the call timeout is a stuck server); the body is the caller's to read.
    pub async fn live(
        &self,
        server: &ServerRef,
        name: &str,
    ) -> Result<reqwest::Response, CallError> {
        let url = Self::url(server, &paths::fill(paths::LIVE_CHANNEL, &[name]));
        let req = self.http.get(url).header("Icy-MetaData", "1");
        match tokio::time::timeout(CALL_TIMEOUT, self.send(server, req)).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Failed(format!(
                "{} did not answer within {} ms",
                server.id,
                CALL_TIMEOUT.as_millis()
            ))),
        }
    }

    /// `close_stream`.
    pub async fn close_stream(&self, server: &ServerRef, render: &str) -> Result<(), CallError> {
        let url = Self::url(server, &paths::fill(paths::MEDIA_STREAM, &[render]));
        let _: serde_json::Value = self
            .json(server, self.on_stream(self.http.delete(url)))
            .await?;
        Ok(())
    }

    /// The rest of the stream from `offset` as one body (read it with `bytes_stream`); checks
    /// that it starts at `offset` and is of `track`.
    pub async fn data(
        &self,
        server: &ServerRef,
        render: &str,
        track: &TrackInfo,
        offset: u64,
        size: usize,
        limit: u64,
    ) -> Result<reqwest::Response, CallError> {
        let query = format!("offset={offset}&size={size}&limit={limit}");
        let req = self.stream_get(server, paths::MEDIA_STREAM_DATA, render, &query);
        // Only the headers are bounded here; the body's pace is the fetcher's business.
        let resp = tokio::time::timeout(CALL_TIMEOUT, self.send(server, req))
            .await
            .map_err(|_| CallError::Failed(format!("{} did not answer in time", server.id)))??;
        check_stream(server, &resp, offset, track)?;
        Ok(resp)
    }

    /// `get_audio_chunk` at `offset`: empty at the end of the track.
    pub async fn chunk(
        &self,
        server: &ServerRef,
        render: &str,
        track: &TrackInfo,
        offset: u64,
        size: usize,
    ) -> Result<Bytes, CallError> {
        let query = format!("offset={offset}&size={size}");
        let req = self.stream_get(server, paths::MEDIA_STREAM_CHUNK, render, &query);
        let resp = self.send(server, req.timeout(CALL_TIMEOUT)).await?;
        check_stream(server, &resp, offset, track)?;
        resp.bytes()
            .await
            .map_err(|e| CallError::Failed(format!("{} broke off: {}", server.id, http_cause(&e))))
    }
}

/// Bytes of a stream are good only from the offset asked and of the track asked.
fn check_stream(
    server: &ServerRef,
    resp: &reqwest::Response,
    asked: u64,
    track: &TrackInfo,
) -> Result<(), CallError> {
    check_offset(server, resp, asked)?;
    check_track(server, resp, track)
}

/// The stream a server answers from must be `track`'s: `x-track-id` (when the server sends it;
/// older servers do not) and `x-track-size` (when present) must match. Otherwise a stale
/// `open_stream` of the previous track replaced this render's stream there.
fn check_track(
    server: &ServerRef,
    resp: &reqwest::Response,
    track: &TrackInfo,
) -> Result<(), CallError> {
    let id = resp.headers().get("x-track-id").map(|v| {
        v.to_str()
            .unwrap_or("(not text)")
            .trim()
            .to_ascii_lowercase()
    });
    if let Some(id) = id
        && id != track.id
    {
        return Err(CallError::WrongTrack(format!(
            "{} streams track {id}, not {}",
            server.id, track.id
        )));
    }
    match header_u64(resp, "x-track-size") {
        Some(size) if size != track.size => Err(CallError::WrongTrack(format!(
            "{} streams a track of {size} bytes, not {}'s {}",
            server.id, track.id, track.size
        ))),
        _ => Ok(()),
    }
}

fn header_u64(resp: &reqwest::Response, name: &str) -> Option<u64> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// A server that starts anywhere but where it was asked would corrupt the track.
fn check_offset(server: &ServerRef, resp: &reqwest::Response, asked: u64) -> Result<(), CallError> {
    match header_u64(resp, "x-offset") {
        Some(got) if got != asked => Err(CallError::Failed(format!(
            "{} answered at offset {got}, asked for {asked}",
            server.id
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use axum::http::HeaderMap;
    use axum::routing::get;

    fn track() -> TrackInfo {
        TrackInfo {
            id: "0123456789abcdef".into(),
            title: "T".into(),
            artist: "A".into(),
            album: "B".into(),
            duration_ms: 1000,
            bitrate_kbps: 128,
            vbr: false,
            size: 4,
            content_type: "audio/mpeg".into(),
            file: "t.mp3".into(),
        }
    }

    /// A server whose `/data` and `/chunk` answer `abcd` at offset 0 with `headers`.
    async fn server(headers: &[(&'static str, &'static str)]) -> ServerRef {
        let mut map = HeaderMap::new();
        map.insert("x-offset", "0".parse().unwrap());
        for (name, value) in headers {
            map.insert(*name, value.parse().unwrap());
        }
        let reply = move || {
            let map = map.clone();
            async move { (map, "abcd") }
        };
        let app = axum::Router::new()
            .route(paths::MEDIA_STREAM_DATA, get(reply.clone()))
            .route(paths::MEDIA_STREAM_CHUNK, get(reply));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        ServerRef {
            id: "S".into(),
            endpoint: format!("http://{addr}"),
        }
    }

    async fn both(client: &MediaClient, server: &ServerRef) -> [Result<(), CallError>; 2] {
        let data = client
            .data(server, "R", &track(), 0, 4096, 4096)
            .await
            .map(drop);
        let chunk = client.chunk(server, "R", &track(), 0, 4096).await.map(drop);
        [data, chunk]
    }

    #[tokio::test]
    async fn bytes_of_another_track_are_refused() {
        let client = MediaClient::new().unwrap();
        for headers in [
            &[("x-track-id", "fedcba9876543210"), ("x-track-size", "4")][..],
            &[("x-track-id", "0123456789abcdef"), ("x-track-size", "9")][..],
            &[("x-track-size", "9")][..],
        ] {
            let server = server(headers).await;
            for r in both(&client, &server).await {
                assert!(
                    matches!(&r, Err(CallError::WrongTrack(m)) if m.contains("S streams")),
                    "{headers:?}: {r:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn the_right_track_or_no_track_header_is_accepted() {
        let client = MediaClient::new().unwrap();
        for headers in [
            &[("x-track-id", "0123456789ABCDEF"), ("x-track-size", "4")][..],
            // A server from before `x-track-id`: unknown, accepted.
            &[("x-track-size", "4")][..],
            &[][..],
        ] {
            let server = server(headers).await;
            for r in both(&client, &server).await {
                assert_eq!(r, Ok(()), "{headers:?}");
            }
        }
    }
}
