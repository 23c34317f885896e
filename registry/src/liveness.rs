//! Marks nodes down when their heartbeats stop; their adapters leave locate results at once,
//! since the locator only answers endpoints of up nodes.

use std::time::Duration;

use grid_proto::api::EventKind;
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// Runs until `token` is cancelled.
pub async fn run(state: AppState, token: CancellationToken) {
    let timeout = state.settings().node_timeout;
    let period = (timeout / 4).clamp(Duration::from_millis(20), Duration::from_millis(250));
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = token.cancelled() => return,
        }
        let down: Vec<String> = {
            let mut live = state.live();
            live.nodes
                .iter_mut()
                .filter(|(_, n)| n.up && n.last_seen.elapsed() > timeout)
                .map(|(name, n)| {
                    n.up = false;
                    n.needs_register = true;
                    name.clone()
                })
                .collect()
        };
        for node in down {
            tracing::warn!(node = %node, timeout_ms = timeout.as_millis() as u64, "node down: no heartbeat");
            state.publish(EventKind::NodeDown { node });
            state.notify_changed();
        }
    }
}
