//! Registry answers as a fake registry serves them or a formatter is fed them.

use grid_proto::api::{ServerRuntime, ServerState, ServerView};
use grid_proto::descriptor::Activation;

/// Server `id` of the application Spotifice on node1 (up), always activated, enabled, not
/// stopped, in `state` with `pid`.
pub fn server_view(id: &str, state: ServerState, pid: Option<u32>) -> ServerView {
    ServerView {
        id: id.into(),
        application: "Spotifice".into(),
        node: "node1".into(),
        node_up: true,
        activation: Activation::Always,
        enabled: true,
        stopped: false,
        runtime: ServerRuntime {
            id: id.into(),
            state,
            pid,
            ..ServerRuntime::default()
        },
    }
}
