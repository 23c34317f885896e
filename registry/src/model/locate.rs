//! The locator: adapter id or replica-group id → live endpoints, ordered by the group's policy.
//! An endpoint is live when its server is active on an up node.

use std::time::Duration;

use grid_proto::api::{LocatedEndpoint, ServerState};
use grid_proto::descriptor::{Activation, LoadBalancing};
use rand::seq::SliceRandom;

use super::live::Live;

/// What a locate found.
#[derive(Debug)]
pub struct Located {
    /// `adapter` or `replica-group`.
    pub kind: &'static str,
    /// The live endpoints, in policy order.
    pub endpoints: Vec<LocatedEndpoint>,
    /// With no endpoint: an on-demand server whose start would give one.
    pub on_demand: Option<OnDemand>,
}

/// An on-demand server to start for a locate.
#[derive(Debug)]
pub struct OnDemand {
    /// Server id.
    pub server: String,
    /// Its node.
    pub node: String,
    /// How long its activation may take.
    pub timeout: Duration,
}

#[derive(Clone, Copy)]
pub(super) enum Target {
    Adapter,
    Group,
}

impl Live {
    /// The live endpoint of an adapter: its server is active and its node up.
    pub fn live_endpoint(&self, adapter: &str) -> Option<(String, String)> {
        let r = self.index.adapters.get(adapter)?;
        let s = self.index.servers.get(&r.server)?;
        if !self.node_up(&s.node) {
            return None;
        }
        let rt = self.runtime.get(&r.server)?;
        if rt.state != ServerState::Active {
            return None;
        }
        rt.endpoints
            .get(adapter)
            .map(|e| (r.server.clone(), e.clone()))
    }

    /// Is the server active on an up node with every adapter's endpoint known?
    pub(super) fn server_live(&self, server: &str) -> bool {
        self.index.servers.get(server).is_some_and(|s| {
            s.adapters
                .iter()
                .all(|a| self.live_endpoint(&a.id).is_some())
        }) && self
            .runtime
            .get(server)
            .is_some_and(|r| r.state == ServerState::Active)
    }

    /// Resolves `id` now (advancing a round-robin group's cursor); `None` when it is unknown.
    pub(super) fn resolve(&mut self, id: &str) -> Option<(Target, Vec<LocatedEndpoint>)> {
        if self.index.adapters.contains_key(id) {
            let eps = self
                .live_endpoint(id)
                .map(|(server, endpoint)| LocatedEndpoint {
                    adapter: id.to_owned(),
                    server,
                    endpoint,
                })
                .into_iter()
                .collect();
            return Some((Target::Adapter, eps));
        }
        let (group, members) = self.index.groups.get(id)?;
        let (policy, limit) = (group.load_balancing, group.n_replicas);
        let mut eps: Vec<(LocatedEndpoint, f64)> = members
            .iter()
            .filter_map(|a| {
                let (server, endpoint) = self.live_endpoint(a)?;
                let load = self
                    .index
                    .servers
                    .get(&server)
                    .and_then(|s| self.nodes.get(&s.node))
                    .map_or(f64::MAX, |n| n.load.load1 / n.host.cpus.max(1) as f64);
                Some((
                    LocatedEndpoint {
                        adapter: a.clone(),
                        server,
                        endpoint,
                    },
                    load,
                ))
            })
            .collect();
        match policy {
            LoadBalancing::Ordered => {}
            LoadBalancing::Random => eps.shuffle(&mut rand::rng()),
            LoadBalancing::RoundRobin => {
                let cursor = self.cursors.entry(id.to_owned()).or_insert(0);
                if !eps.is_empty() {
                    let k = *cursor % eps.len();
                    eps.rotate_left(k);
                }
                *cursor = cursor.wrapping_add(1);
            }
            LoadBalancing::Adaptive => eps.sort_by(|a, b| a.1.total_cmp(&b.1)),
        }
        let mut eps: Vec<LocatedEndpoint> = eps.into_iter().map(|(e, _)| e).collect();
        if limit > 0 {
            eps.truncate(limit);
        }
        Some((Target::Group, eps))
    }

    /// The on-demand server to start for `id`, if any can be.
    pub(super) fn on_demand_candidate(&self, id: &str, target: Target) -> Option<OnDemand> {
        let adapters: Vec<&String> = match target {
            Target::Adapter => vec![self.index.adapters.get_key_value(id)?.0],
            Target::Group => self.index.groups.get(id)?.1.iter().collect(),
        };
        adapters.into_iter().find_map(|a| {
            let s = self
                .index
                .servers
                .get(&self.index.adapters.get(a)?.server)?;
            let f = self.flags_of(&s.id);
            (s.activation == Activation::OnDemand
                && f.enabled
                && !f.stopped
                && self.node_up(&s.node))
            .then(|| OnDemand {
                server: s.id.clone(),
                node: s.node.clone(),
                timeout: Duration::from_millis(s.activation_timeout_ms),
            })
        })
    }
}
