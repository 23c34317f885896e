//! Forwards servers' application events (a render's `playing`, `failover`, ...) to the registry,
//! in order, from one task. Events are best effort: a full queue or an unreachable registry drops
//! them (logged at debug) and never holds up the server that sent them.

use grid_proto::api::ForwardedEvent;
use grid_proto::client::Client;
use grid_proto::paths;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How many events may wait for the registry.
const QUEUE: usize = 256;

/// The sending side, held by the API.
#[derive(Debug, Clone)]
pub struct Forwarder {
    tx: mpsc::Sender<ForwardedEvent>,
}

impl Forwarder {
    /// Starts the forwarding task for node `name`.
    pub fn start(name: &str, client: Client, cancel: CancellationToken) -> Self {
        let (tx, mut rx) = mpsc::channel::<ForwardedEvent>(QUEUE);
        let path = paths::fill(paths::NODE_SERVER_EVENT_FORWARD, &[name]);
        tokio::spawn(async move {
            loop {
                let ev = tokio::select! {
                    ev = rx.recv() => match ev { Some(ev) => ev, None => return },
                    () = cancel.cancelled() => return,
                };
                let r: Result<serde_json::Value, _> = client.post(&path, &ev).await;
                if let Err(e) = r {
                    tracing::debug!(server = %ev.server, cause = %e, "server event dropped");
                }
            }
        });
        Self { tx }
    }

    /// Queues an event; drops it when the queue is full.
    pub fn send(&self, server: &str, payload: serde_json::Value) {
        if self
            .tx
            .try_send(ForwardedEvent {
                server: server.to_owned(),
                payload,
            })
            .is_err()
        {
            tracing::debug!(server, "server event dropped: queue full");
        }
    }
}
