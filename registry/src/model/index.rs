//! Deployed applications and the lookups derived from them.

use std::collections::{BTreeMap, HashMap};

use grid_proto::descriptor::{ApplicationDescriptor, ReplicaGroup, ServerDescriptor};

use crate::store::StoredApplication;

/// A deployed application with its expansion.
#[derive(Debug, Clone)]
pub(super) struct Deployed {
    /// What is stored.
    pub(super) stored: StoredApplication,
    /// Replica groups by id.
    pub(super) groups: BTreeMap<String, ReplicaGroup>,
    /// Expanded servers.
    pub(super) servers: Vec<ServerDescriptor>,
}

impl Deployed {
    /// Parses and expands a stored application.
    pub(super) fn from_stored(stored: StoredApplication) -> anyhow::Result<Self> {
        let desc = ApplicationDescriptor::parse(&stored.source)?;
        let expanded = desc.expand()?;
        Ok(Self {
            stored,
            groups: desc.replica_groups,
            servers: expanded.servers,
        })
    }
}

/// Where an adapter lives.
#[derive(Debug, Clone)]
pub(super) struct AdapterRef {
    /// Server id.
    pub(super) server: String,
    /// Replica group.
    pub(super) group: Option<String>,
}

/// Lookups derived from the applications, rebuilt on every application change.
#[derive(Debug, Default)]
pub(super) struct Index {
    /// Server id → descriptor.
    pub(super) servers: BTreeMap<String, ServerDescriptor>,
    /// Adapter id → owner.
    pub(super) adapters: HashMap<String, AdapterRef>,
    /// Replica group id → (policy, member adapter ids in descriptor order).
    pub(super) groups: HashMap<String, (ReplicaGroup, Vec<String>)>,
}
