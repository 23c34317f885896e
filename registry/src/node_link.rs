//! Calls from the registry to the nodes: pushing server sets and forwarding commands.

use std::collections::BTreeSet;

use grid_proto::api::{NodeStatus, ServerRuntime};
use grid_proto::client::Client;
use grid_proto::paths;
use serde::Serialize;

use crate::api::error::ApiError;
use crate::state::AppState;
use crate::store;

/// A client for an up node.
pub fn node_client(state: &AppState, node: &str) -> Result<Client, ApiError> {
    let live = state.live();
    let n = live
        .nodes
        .get(node)
        .ok_or_else(|| ApiError::Unavailable(format!("node '{node}' has not registered")))?;
    if !n.up {
        return Err(ApiError::Unavailable(format!("node '{node}' is down")));
    }
    Ok(state.node_client(node, &n.endpoint))
}

/// `POST`s a server command to a node and returns the server's runtime after it.
pub async fn call_node<B: Serialize>(
    state: &AppState,
    node: &str,
    path: &str,
    body: &B,
) -> Result<ServerRuntime, ApiError> {
    let client = node_client(state, node)?;
    client
        .post(path, body)
        .await
        .map_err(|e| ApiError::from_node(node, e))
}

/// Sends each named node its current server set. Failures are logged: the node's next
/// heartbeat carries its serial and gets the set again.
pub async fn push_assignments(state: &AppState, nodes: BTreeSet<String>) {
    let calls = nodes.into_iter().filter_map(|node| {
        let (client, assignment) = {
            let live = state.live();
            let n = live.nodes.get(&node).filter(|n| n.up)?;
            (state.node_client(&node, &n.endpoint), live.assignment(&node))
        };
        Some(async move {
            let r: Result<NodeStatus, _> = client.put(paths::NODE_ASSIGNMENT, &assignment).await;
            if let Err(e) = r {
                tracing::warn!(node = %node, cause = %e, "could not push the server set; the next heartbeat will");
            }
        })
    });
    futures_util::future::join_all(calls).await;
}

/// Changes a server's persisted flags (if they change) and pushes its node's new server set.
pub async fn set_flags(
    state: &AppState,
    server: &str,
    enabled: Option<bool>,
    stopped: Option<bool>,
) -> Result<(), ApiError> {
    let node = {
        let _writer = state.writer().await;
        let (old, serial, node) = {
            let live = state.live();
            let s = live
                .index
                .servers
                .get(server)
                .ok_or_else(|| ApiError::NotFound(format!("unknown server '{server}'")))?;
            (
                live.flags_of(server),
                live.assignment_serial + 1,
                s.node.clone(),
            )
        };
        let new = store::flags_with(old, enabled, stopped);
        if new == old {
            return Ok(());
        }
        state.store().put_flags(server, new, serial).await?;
        let mut live = state.live();
        live.flags.insert(server.to_owned(), new);
        live.assignment_serial = serial;
        node
    };
    push_assignments(state, BTreeSet::from([node])).await;
    Ok(())
}
