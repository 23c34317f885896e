//! Marks nodes down when their heartbeats stop; their adapters leave locate results at once,
//! since the locator only answers endpoints of up nodes.

use std::time::Duration;

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
        state.model().mark_silent_nodes_down(timeout);
    }
}
