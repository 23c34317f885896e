//! Deployed applications, their validation against each other, and the lookups derived from
//! them.

use std::collections::{BTreeMap, HashMap};

use grid_proto::descriptor::{ApplicationDescriptor, ReplicaGroup, ServerDescriptor};

use super::{Live, ModelError};
use crate::store::{self, StoredApplication};

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

impl Live {
    /// Rebuilds [`Index`] from the applications.
    pub(super) fn reindex(&mut self) {
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

    /// Parses, expands and checks a descriptor against the other applications.
    pub(super) fn validate(&self, source: &str) -> Result<Deployed, ModelError> {
        let desc = ApplicationDescriptor::parse(source).map_err(ModelError::InvalidDescriptor)?;
        let expanded = desc.expand().map_err(ModelError::InvalidDescriptor)?;
        let taken = |what: String, verb, owner: &str| ModelError::Taken {
            what,
            verb,
            owner: owner.to_owned(),
        };
        for (other_name, other) in &self.apps {
            if *other_name == desc.name {
                continue;
            }
            for s in &expanded.servers {
                if other.servers.iter().any(|o| o.id == s.id) {
                    return Err(taken(format!("server id '{}'", s.id), "used", other_name));
                }
                for a in &s.adapters {
                    if other
                        .servers
                        .iter()
                        .flat_map(|o| &o.adapters)
                        .any(|o| o.id == a.id)
                        || other.groups.contains_key(&a.id)
                    {
                        return Err(taken(format!("adapter id '{}'", a.id), "used", other_name));
                    }
                }
            }
            for g in desc.replica_groups.keys() {
                if other.groups.contains_key(g) {
                    return Err(taken(format!("replica group '{g}'"), "defined", other_name));
                }
            }
        }
        let stored = store::new_application(&desc.name, source, 0);
        Ok(Deployed {
            stored,
            groups: desc.replica_groups,
            servers: expanded.servers,
        })
    }
}
