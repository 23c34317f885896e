//! The render's events (`loaded`, `playing`, `paused`, `stopped`, `track_exhausted`,
//! `failover`), posted to its node, which forwards them to the registry's event stream.
//!
//! One sender task posts them in order; playback never waits for it. Without a node (started by
//! hand) there is nowhere to post and events are only logged by the player.

use std::time::Duration;

use grid_proto::media::{RenderEvent, ServerEvent};
use grid_proto::paths;
use grid_proto::server_env::ServerEnv;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// A node is local; one that does not take an event in this long is skipped for that event.
const POST_TIMEOUT: Duration = Duration::from_secs(2);

/// Where events go. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    tx: Option<mpsc::UnboundedSender<RenderEvent>>,
}

impl Events {
    /// Posts to the node that started this process, if any. Must run inside the runtime.
    pub fn new(grid: Option<&ServerEnv>, http: reqwest::Client) -> Self {
        let Some(grid) = grid else {
            return Self { tx: None };
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let url = format!(
            "{}{}",
            grid.node_url.trim_end_matches('/'),
            paths::fill(paths::NODE_SERVER_EVENT, &[&grid.id])
        );
        tokio::spawn(post_all(rx, http, url, grid.token.clone()));
        Self { tx: Some(tx) }
    }

    /// No node: events go nowhere.
    pub fn none() -> Self {
        Self { tx: None }
    }

    /// Queues `event` for the node.
    pub fn emit(&self, event: RenderEvent) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(event);
        }
    }
}

async fn post_all(
    mut rx: mpsc::UnboundedReceiver<RenderEvent>,
    http: reqwest::Client,
    url: String,
    token: String,
) {
    // Logged once per streak of failures, not per event.
    let mut failing = false;
    while let Some(event) = rx.recv().await {
        let payload = match serde_json::to_value(&event) {
            Ok(payload) => payload,
            Err(e) => {
                warn!("cannot encode the event {event:?}: {e}");
                continue;
            }
        };
        let body = ServerEvent {
            token: token.clone(),
            payload,
        };
        let sent = http
            .post(&url)
            .header(grid_proto::PROTOCOL_HEADER, grid_proto::PROTOCOL_VERSION)
            .timeout(POST_TIMEOUT)
            .json(&body)
            .send()
            .await;
        let error = match sent {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("the node answered {}", r.status().as_u16())),
            Err(e) => Some(format!("the node is unreachable: {e}")),
        };
        match error {
            Some(e) if !failing => {
                failing = true;
                warn!("cannot post events to {url}: {e}");
            }
            None if failing => {
                failing = false;
                info!("posting events to {url} again");
            }
            _ => {}
        }
    }
}
