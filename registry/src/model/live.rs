//! The live view: what is deployed, with its derived index and the persisted flags' mirror,
//! and what the nodes report.

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::MutexGuard;
use std::time::Instant;

use grid_proto::api::{HostInfo, Load, ServerRuntime};
use grid_proto::descriptor::ApplicationDescriptor;

use super::error::ModelError;
use super::index::{AdapterRef, Deployed, Index};
use crate::store::{self, ServerFlags};

/// The live view: what is deployed, what the nodes report, and the persisted flags' mirror.
#[derive(Debug, Default)]
pub struct Live {
    pub(super) apps: BTreeMap<String, Deployed>,
    pub(super) index: Index,
    pub(super) flags: HashMap<String, ServerFlags>,
    pub(super) nodes: BTreeMap<String, NodeEntry>,
    pub(super) runtime: HashMap<String, ServerRuntime>,
    pub(super) assignment_serial: u64,
    pub(super) cursors: HashMap<String, usize>,
}

impl Live {
    /// Is the node up?
    pub fn node_up(&self, node: &str) -> bool {
        self.nodes.get(node).is_some_and(|n| n.up)
    }

    /// A server's flags.
    pub(super) fn flags_of(&self, server: &str) -> ServerFlags {
        self.flags.get(server).copied().unwrap_or_default()
    }

    /// Forgets the flags and runtime of servers that are no longer deployed.
    pub(super) fn forget_servers(&mut self, ids: &[String]) {
        for id in ids {
            self.flags.remove(id);
            self.runtime.remove(id);
        }
    }

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

    /// The API URL of an up node.
    pub fn up_endpoint(&self, node: &str) -> Result<String, ModelError> {
        let n = self
            .nodes
            .get(node)
            .ok_or_else(|| ModelError::NodeUnregistered(node.to_owned()))?;
        if !n.up {
            return Err(ModelError::NodeDown(node.to_owned()));
        }
        Ok(n.endpoint.clone())
    }
}

/// A node as the registry sees it.
#[derive(Debug, Clone)]
pub(super) struct NodeEntry {
    /// Node API URL.
    pub(super) endpoint: String,
    /// Node address.
    pub(super) address: String,
    /// Host facts.
    pub(super) host: HostInfo,
    /// Last load.
    pub(super) load: Load,
    /// Last heartbeat.
    pub(super) last_seen: Instant,
    /// Up or down.
    pub(super) up: bool,
    /// Marked down: its next heartbeat is refused so it re-registers with its full state.
    pub(super) needs_register: bool,
}

/// A read-only look at the live view, holding its lock until dropped.
#[derive(Debug)]
pub struct View<'a>(pub(super) MutexGuard<'a, Live>);

impl Deref for View<'_> {
    type Target = Live;

    fn deref(&self) -> &Live {
        &self.0
    }
}
