//! The nodes as the registry sees them.

use std::time::Instant;

use grid_proto::api::{HostInfo, Load};

/// A node as the registry sees it.
#[derive(Debug, Clone)]
pub struct NodeEntry {
    /// Node API URL.
    pub endpoint: String,
    /// Node address.
    pub address: String,
    /// Host facts.
    pub host: HostInfo,
    /// Last load.
    pub load: Load,
    /// Last heartbeat.
    pub last_seen: Instant,
    /// Up or down.
    pub up: bool,
    /// Marked down: its next heartbeat is refused so it re-registers with its full state.
    pub needs_register: bool,
}
