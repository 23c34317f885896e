//! What the API and the event stream show of the model.

use grid_proto::api::{
    AdapterView, ApplicationDetail, ApplicationSummary, AssignedServer, Assignment, NodeView,
    ServerDetail, ServerRuntime, ServerState, ServerView,
};
use grid_proto::descriptor::ServerDescriptor;

use super::error::ModelError;
use super::live::{Live, NodeEntry};

impl Live {
    /// The server set of one node.
    pub fn assignment(&self, node: &str) -> Assignment {
        let servers = self
            .index
            .servers
            .values()
            .filter(|s| s.node == node)
            .map(|s| {
                let f = self.flags_of(&s.id);
                AssignedServer {
                    descriptor: s.clone(),
                    enabled: f.enabled,
                    stopped: f.stopped,
                }
            })
            .collect();
        Assignment {
            serial: self.assignment_serial,
            servers,
        }
    }

    /// The listing view of one server.
    fn server_view(&self, s: &ServerDescriptor) -> ServerView {
        let f = self.flags_of(&s.id);
        let runtime = self
            .runtime
            .get(&s.id)
            .cloned()
            .unwrap_or_else(|| ServerRuntime {
                id: s.id.clone(),
                ..Default::default()
            });
        ServerView {
            id: s.id.clone(),
            application: s.application.clone(),
            node: s.node.clone(),
            node_up: self.node_up(&s.node),
            activation: s.activation,
            enabled: f.enabled,
            stopped: f.stopped,
            runtime,
        }
    }

    /// Every server.
    pub fn server_views(&self) -> Vec<ServerView> {
        self.index
            .servers
            .values()
            .map(|s| self.server_view(s))
            .collect()
    }

    /// The listing view of one node.
    fn node_view(&self, name: &str, n: &NodeEntry) -> NodeView {
        NodeView {
            name: name.to_owned(),
            up: n.up,
            endpoint: n.endpoint.clone(),
            address: n.address.clone(),
            host: n.host.clone(),
            load: n.load,
            last_seen_ms_ago: n.last_seen.elapsed().as_millis() as u64,
            servers: self
                .index
                .servers
                .values()
                .filter(|s| s.node == name)
                .map(|s| s.id.clone())
                .collect(),
        }
    }

    /// Every node.
    pub fn node_views(&self) -> Vec<NodeView> {
        self.nodes
            .iter()
            .map(|(name, n)| self.node_view(name, n))
            .collect()
    }

    /// Every application.
    pub fn app_summaries(&self) -> Vec<ApplicationSummary> {
        self.apps
            .values()
            .map(|a| ApplicationSummary {
                name: a.stored.name.clone(),
                serial: a.stored.serial,
                servers: a.servers.len(),
                updated_ms: a.stored.updated_ms,
            })
            .collect()
    }

    /// Every adapter.
    pub fn adapter_views(&self) -> Vec<AdapterView> {
        let mut v: Vec<_> = self
            .index
            .adapters
            .iter()
            .filter_map(|(id, r)| {
                let s = self.index.servers.get(&r.server)?;
                Some(AdapterView {
                    id: id.clone(),
                    server: r.server.clone(),
                    node: s.node.clone(),
                    replica_group: r.group.clone(),
                    endpoint: self.live_endpoint(id).map(|(_, e)| e),
                })
            })
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// One node.
    pub fn node(&self, name: &str) -> Result<NodeView, ModelError> {
        let n = self
            .nodes
            .get(name)
            .ok_or_else(|| ModelError::UnknownNode(name.to_owned()))?;
        Ok(self.node_view(name, n))
    }

    /// One application with its source and expanded servers.
    pub fn application(&self, name: &str) -> Result<ApplicationDetail, ModelError> {
        let app = self
            .apps
            .get(name)
            .ok_or_else(|| ModelError::UnknownApp(name.to_owned()))?;
        Ok(ApplicationDetail {
            name: app.stored.name.clone(),
            serial: app.stored.serial,
            updated_ms: app.stored.updated_ms,
            source: app.stored.source.clone(),
            servers: app.servers.clone(),
            replica_groups: app.groups.clone(),
        })
    }

    /// One server with its descriptor.
    pub fn server(&self, id: &str) -> Result<ServerDetail, ModelError> {
        let s = self
            .index
            .servers
            .get(id)
            .ok_or_else(|| ModelError::UnknownServer(id.to_owned()))?;
        Ok(ServerDetail {
            view: self.server_view(s),
            descriptor: s.clone(),
        })
    }

    /// Deployed applications.
    pub fn application_count(&self) -> usize {
        self.apps.len()
    }

    /// Registered nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Registered nodes that are up.
    pub fn nodes_up(&self) -> usize {
        self.nodes.values().filter(|n| n.up).count()
    }

    /// Deployed servers.
    pub fn server_count(&self) -> usize {
        self.index.servers.len()
    }

    /// Each deployed server's state as its node last reported it (inactive when none has).
    pub fn server_states(&self) -> impl Iterator<Item = ServerState> + '_ {
        self.index.servers.keys().map(|id| {
            self.runtime
                .get(id)
                .map_or(ServerState::Inactive, |r| r.state)
        })
    }

    /// Adapters with a live endpoint.
    pub fn adapters_live(&self) -> usize {
        self.index
            .adapters
            .keys()
            .filter(|a| self.live_endpoint(a).is_some())
            .count()
    }
}
