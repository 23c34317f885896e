//! The registry's live model: the deployed applications with their derived index, the nodes,
//! the servers' runtime and the persisted flags.

mod deploy;
mod locate;
mod nodes;
mod views;

use std::collections::{BTreeMap, HashMap};

use grid_proto::api::ServerRuntime;

use crate::store::ServerFlags;

pub use deploy::{AdapterRef, Deployed, Index};
pub use nodes::NodeEntry;

/// The live model.
#[derive(Debug, Default)]
pub struct Live {
    /// Deployed applications.
    pub apps: BTreeMap<String, Deployed>,
    /// Derived lookups.
    pub index: Index,
    /// Persisted flags (mirror of the store).
    pub flags: HashMap<String, ServerFlags>,
    /// Nodes.
    pub nodes: BTreeMap<String, NodeEntry>,
    /// Server id → runtime, as the nodes report it.
    pub runtime: HashMap<String, ServerRuntime>,
    /// Serial of the server set (persisted).
    pub assignment_serial: u64,
    /// Round-robin cursors per replica group.
    pub cursors: HashMap<String, usize>,
}

impl Live {
    /// Is the node up?
    pub fn node_up(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|n| n.up)
    }

    /// A server's flags.
    pub fn flags_of(&self, server: &str) -> ServerFlags {
        self.flags.get(server).copied().unwrap_or_default()
    }
}
