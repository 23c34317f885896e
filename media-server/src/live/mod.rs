//! Live channels (`docs/live.md`): playlists of the library and relays of upstream streams,
//! broadcast in ICY or plain HTTP to many listeners from one thread.
//!
//! - [`config`]: the `--channels` file.
//! - [`channel`]: a channel's shared output, its listeners, the distributor.
//! - [`playlist`], [`relay`]: the two sources, each the clock of its channel.
//! - [`silence`]: silent MP3 frames in real time.
//! - [`control`], [`udp_source`]: seed 002: the control port with UDP delivery, and channels
//!   fed by UDP datagrams.
//!
//! Listeners are taken over by [`crate::front`] straight from the accept loop: no HTTP stack, no
//! task and no buffer per listener.

pub mod channel;
pub mod config;
pub mod control;
pub mod playlist;
pub mod relay;
pub(crate) mod ring;
pub mod silence;
pub mod udp_feed;
pub mod udp_source;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use grid_proto::live::ChannelStats;
use tracing::info;

use crate::SharedState;
use crate::error::ApiError;
pub use channel::Channel;
use config::{ChannelConfig, Source};

/// The channels of a server.
#[derive(Debug, Default)]
pub struct Live {
    channels: Vec<Arc<Channel>>,
    /// The distributor's tick.
    pub tick: Duration,
    /// The registry, to locate `grid:` upstreams.
    registry: Option<String>,
}

impl Live {
    /// Channels as configured, not started, of the server at `base` (`http://host:port`).
    /// `grid:` upstreams need the `registry`.
    pub fn new(
        configs: Vec<ChannelConfig>,
        tick: Duration,
        base: &str,
        registry: Option<String>,
    ) -> anyhow::Result<Self> {
        if registry.is_none()
            && let Some(c) = configs.iter().find(|c| {
                matches!(
                    c.source,
                    Source::Relay {
                        upstream: config::Upstream::Grid { .. },
                        ..
                    }
                )
            })
        {
            anyhow::bail!(
                "channel '{}': source: a grid: upstream needs the registry (run the server under a node, or pass --registry)",
                c.name
            );
        }
        Ok(Live {
            tick,
            registry,
            channels: configs
                .into_iter()
                .map(|c| {
                    let url = format!("{base}/live/{}", c.name);
                    Arc::new(Channel::new(c, tick, url))
                })
                .collect(),
        })
    }

    /// The channel called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Channel>> {
        self.channels.iter().find(|c| c.name() == name)
    }

    /// All channels, in the file's order.
    pub fn channels(&self) -> &[Arc<Channel>] {
        &self.channels
    }

    /// Starts every channel's clock (a task each) on this runtime. Fails when a UDP source's
    /// port cannot be bound.
    pub fn start(&self, state: &SharedState) -> anyhow::Result<()> {
        let tick = self.tick;
        for channel in &self.channels {
            let c = &channel.config;
            if c.max_children > 0 {
                tokio::spawn(Arc::clone(channel).keep_child_sizes());
            }
            match &c.source {
                Source::Playlist { entries, order } => {
                    info!(
                        "channel {} started: playlist ({}, {}), metaint {}, burst {} ms, lag {} ms",
                        c.name,
                        entries.as_ref().map_or_else(
                            || "the whole library".to_owned(),
                            |e| format!("{} entries", e.len())
                        ),
                        match order {
                            config::Order::InOrder => "in order",
                            config::Order::Shuffle => "shuffled",
                        },
                        c.metaint,
                        c.burst_ms,
                        c.lag_ms
                    );
                    let playlist = playlist::Playlist::new(
                        entries.clone(),
                        *order,
                        std::time::Duration::from_millis(c.burst_ms),
                    );
                    tokio::spawn(playlist::run(
                        Arc::clone(channel),
                        playlist,
                        Arc::clone(state),
                        tick,
                    ));
                }
                Source::Relay { url, upstream } => {
                    info!(
                        "channel {} started: relay of {url}, metaint {}, burst {} ms, lag {} ms",
                        c.name, c.metaint, c.burst_ms, c.lag_ms
                    );
                    tokio::spawn(relay::run(
                        Arc::clone(channel),
                        upstream.clone(),
                        self.registry.clone(),
                        tick,
                    ));
                }
                Source::Udp { bind, .. } => {
                    let socket = udp_source::bind(channel, bind)?;
                    info!(
                        "channel {} started: UDP source on {}, metaint {}, burst {} ms, lag {} ms",
                        c.name,
                        socket
                            .local_addr()
                            .map_or_else(|_| bind.clone(), |a| a.to_string()),
                        c.metaint,
                        c.burst_ms,
                        c.lag_ms
                    );
                    tokio::spawn(udp_source::run(Arc::clone(channel), socket, tick));
                }
            }
        }
        Ok(())
    }

    /// Closes every listener (at a stop).
    pub fn close_all(&self) {
        for c in &self.channels {
            c.close_all();
        }
    }
}

/// At most this much of a peer's stats is read.
const MAX_PEER_STATS: usize = 64 * 1024;

/// Another copy's stats (`GET {base}/v1/channels/{name}` of `client`'s base), read to at most
/// [`MAX_PEER_STATS`]: relays in a tree ask their parents and children, whose answers are never
/// trusted to be small.
pub(crate) async fn peer_stats(
    client: &grid_proto::client::Client,
    name: &str,
) -> Option<ChannelStats> {
    let url = client.url(&grid_proto::paths::fill(
        grid_proto::paths::CHANNEL,
        &[name],
    ));
    let mut resp = client.http().get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_PEER_STATS {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).ok()
}

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
/// the same bytes through the slow path, [`Channel::body_stream`]).
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
    let body = Body::from_stream(Arc::clone(channel).body_stream(icy, state.live.tick));
    response
        .body(body)
        .map_err(|e| ApiError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A peer that answers every request with `body`.
    async fn peer(body: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut head = [0u8; 1024];
                    let _ = s.read(&mut head).await;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(reply.as_bytes()).await;
                    let _ = s.write_all(&body).await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_peers_stats_are_read_only_when_small() {
        let mut stats = serde_json::to_value(ChannelStats {
            name: "t".into(),
            kind: grid_proto::live::ChannelKind::Relay,
            description: String::new(),
            genre: String::new(),
            bitrate_kbps: 128,
            metaint: 16_000,
            listeners: 0,
            listeners_peak: 0,
            joins: 0,
            bytes_out: 0,
            cut_offs: 0,
            title: String::new(),
            source: grid_proto::live::SourceStats {
                state: grid_proto::live::SourceState::Playing,
                upstream: None,
                track_id: None,
                reconnects: 0,
                segments: 0,
                gaps: 0,
                duplicates: 0,
            },
            uptime_ms: 0,
            udp_clients: 0,
            udp_datagrams: 0,
            udp_bytes: 0,
            tree: grid_proto::live::TreeStats::default(),
        })
        .unwrap();
        let small = peer(serde_json::to_vec(&stats).unwrap()).await;
        let client = grid_proto::client::Client::new(&small, "a peer").unwrap();
        assert_eq!(
            peer_stats(&client, "t").await.map(|s| s.name),
            Some("t".into())
        );
        // The same stats with a title of 100 KB: not read.
        stats["title"] = "x".repeat(100 * 1024).into();
        let big = peer(serde_json::to_vec(&stats).unwrap()).await;
        let client = grid_proto::client::Client::new(&big, "a peer").unwrap();
        assert!(peer_stats(&client, "t").await.is_none());
    }
}
