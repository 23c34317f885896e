//! Calls from the registry to the nodes: pushing server sets and forwarding commands.

use grid_proto::api::{NodeStatus, ServerRuntime};
use grid_proto::client::{Client, ClientError};
use grid_proto::paths;
use serde::Serialize;

use crate::model::{ModelError, Push};
use crate::state::AppState;

/// Why a call to a node failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The node is not registered or not up.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The node answered an error or could not be reached.
    #[error("node {node}: {source}")]
    Node {
        /// The node.
        node: String,
        /// What the call returned.
        #[source]
        source: ClientError,
    },
}

/// A client for an up node.
pub fn node_client(state: &AppState, node: &str) -> Result<Client, LinkError> {
    let endpoint = state.model().view().up_endpoint(node)?;
    Ok(state.node_client(node, &endpoint))
}

/// Maps a node's answer to a [`LinkError`].
pub fn failed(node: &str) -> impl FnOnce(ClientError) -> LinkError + '_ {
    move |source| LinkError::Node {
        node: node.to_owned(),
        source,
    }
}

/// `POST`s a server command to a node and returns the server's runtime after it.
pub async fn call_node<B: Serialize>(
    state: &AppState,
    node: &str,
    path: &str,
    body: &B,
) -> Result<ServerRuntime, LinkError> {
    node_client(state, node)?
        .post(path, body)
        .await
        .map_err(failed(node))
}

/// Sends each node of a durable change its current server set, then lets the change's writer
/// lock go. Failures are logged: the node's next heartbeat carries its serial and gets the set
/// again.
pub async fn push(state: &AppState, push: Push) {
    let calls = push.nodes().iter().filter_map(|node| {
        let (client, assignment) = {
            let live = state.model().view();
            let endpoint = live.up_endpoint(node).ok()?;
            (state.node_client(node, &endpoint), live.assignment(node))
        };
        Some(async move {
            let r: Result<NodeStatus, _> = client.put(paths::NODE_ASSIGNMENT, &assignment).await;
            if let Err(e) = r {
                tracing::warn!(node = %node, cause = %e, "could not push the server set; the next heartbeat will");
            }
        })
    });
    futures_util::future::join_all(calls).await;
    drop(push);
}
