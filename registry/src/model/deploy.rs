//! Deployed applications and the lookups derived from them.

use std::collections::{BTreeMap, HashMap};

use grid_proto::descriptor::{ApplicationDescriptor, ReplicaGroup, ServerDescriptor};

use super::Live;
use crate::store::StoredApplication;

/// A deployed application with its expansion.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// What is stored.
    pub stored: StoredApplication,
    /// Replica groups by id.
    pub groups: BTreeMap<String, ReplicaGroup>,
    /// Expanded servers.
    pub servers: Vec<ServerDescriptor>,
}

impl Deployed {
    /// Parses and expands a stored application.
    pub fn from_stored(stored: StoredApplication) -> anyhow::Result<Self> {
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
pub struct AdapterRef {
    /// Server id.
    pub server: String,
    /// Replica group.
    pub group: Option<String>,
}

/// Lookups derived from the applications, rebuilt on every application change.
#[derive(Debug, Default)]
pub struct Index {
    /// Server id → (application, descriptor).
    pub servers: BTreeMap<String, ServerDescriptor>,
    /// Adapter id → owner.
    pub adapters: HashMap<String, AdapterRef>,
    /// Replica group id → (policy, member adapter ids in descriptor order).
    pub groups: HashMap<String, (ReplicaGroup, Vec<String>)>,
}

impl Live {
    /// Rebuilds [`Index`] from the applications.
    pub fn reindex(&mut self) {
        let mut index = Index::default();
        for app in self.apps.values() {
            for (id, g) in &app.groups {
                index.groups.insert(id.clone(), (g.clone(), Vec::new()));
            }
        }
        for app in self.apps.values() {
            for s in &app.servers {
                for a in &s.adapters {
                    index.adapters.insert(
                        a.id.clone(),
                        AdapterRef {
                            server: s.id.clone(),
                            group: a.replica_group.clone(),
                        },
                    );
                    if let Some(g) = &a.replica_group
                        && let Some((_, members)) = index.groups.get_mut(g)
                    {
                        members.push(a.id.clone());
                    }
                }
                index.servers.insert(s.id.clone(), s.clone());
            }
        }
        self.index = index;
    }
}
