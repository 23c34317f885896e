//! Live endpoints: an adapter's server active on an up node.

use super::Live;

impl Live {
    /// The live endpoint of an adapter: its server is active and its node up.
    pub fn live_endpoint(&self, adapter: &str) -> Option<(String, String)> {
        let r = self.index.adapters.get(adapter)?;
        let s = self.index.servers.get(&r.server)?;
        if !self.node_up(&s.node) {
            return None;
        }
        let rt = self.runtime.get(&r.server)?;
        if rt.state != grid_proto::api::ServerState::Active {
            return None;
        }
        rt.endpoints
            .get(adapter)
            .map(|e| (r.server.clone(), e.clone()))
    }

    /// Is the server active on an up node with every adapter's endpoint known?
    pub fn live_endpoint_of_server(&self, server: &str) -> bool {
        self.index.servers.get(server).is_some_and(|s| {
            s.adapters
                .iter()
                .all(|a| self.live_endpoint(&a.id).is_some())
        }) && self
            .runtime
            .get(server)
            .is_some_and(|r| r.state == grid_proto::api::ServerState::Active)
    }
}
