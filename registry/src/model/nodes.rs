//! The nodes as the registry sees them: registration, heartbeats, liveness, and the server
//! runtime they report.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use grid_proto::api::{
    Assignment, EventKind, ForwardedEvent, Heartbeat, HeartbeatReply, NodeRegister, ServerRuntime,
};

use super::error::ModelError;
use super::handle::Model;
use super::live::NodeEntry;

impl Model {
    /// A node (re-)registers with everything it runs; returns its server set.
    pub fn register_node(&self, name: &str, req: NodeRegister) -> Assignment {
        let (assignment, was_up) = {
            let mut live = self.live();
            let was_up = live.node_up(name);
            live.nodes.insert(
                name.to_owned(),
                NodeEntry {
                    endpoint: req.endpoint.clone(),
                    address: req.address.clone(),
                    host: req.host,
                    load: req.load,
                    last_seen: Instant::now(),
                    up: true,
                    needs_register: false,
                },
            );
            // What the node does not report is not running there.
            let reported: HashSet<&str> = req.servers.iter().map(|s| s.id.as_str()).collect();
            let gone: Vec<String> = live
                .index
                .servers
                .values()
                .filter(|s| s.node == name && !reported.contains(s.id.as_str()))
                .map(|s| s.id.clone())
                .collect();
            for id in gone {
                live.runtime.remove(&id);
            }
            for rt in req.servers {
                live.runtime.insert(rt.id.clone(), rt);
            }
            (live.assignment(name), was_up)
        };
        tracing::info!(node = %name, endpoint = %req.endpoint, "node registered");
        if !was_up {
            self.publish(EventKind::NodeUp {
                node: name.to_owned(),
            });
        }
        self.notify_changed();
        assignment
    }

    /// A node's heartbeat; the reply carries its server set when the node's serial is stale.
    pub fn heartbeat(&self, name: &str, req: &Heartbeat) -> Result<HeartbeatReply, ModelError> {
        let came_back;
        let reply = {
            let mut live = self.live();
            let serial = live.assignment_serial;
            let Some(n) = live.nodes.get_mut(name).filter(|n| !n.needs_register) else {
                return Err(ModelError::MustRegister(name.to_owned()));
            };
            n.last_seen = Instant::now();
            n.load = req.load;
            came_back = !n.up;
            n.up = true;
            HeartbeatReply {
                assignment: (req.assignment_serial != serial).then(|| live.assignment(name)),
            }
        };
        if came_back {
            tracing::info!(node = %name, "node up");
            self.publish(EventKind::NodeUp {
                node: name.to_owned(),
            });
            self.notify_changed();
        }
        Ok(reply)
    }

    /// A node reports a server's new state.
    pub fn server_state(&self, name: &str, rt: ServerRuntime) -> Result<(), ModelError> {
        {
            let mut live = self.live();
            let Some(n) = live.nodes.get_mut(name) else {
                return Err(ModelError::MustRegister(name.to_owned()));
            };
            n.last_seen = Instant::now();
            live.runtime.insert(rt.id.clone(), rt.clone());
        }
        tracing::info!(server = %rt.id, node = %name, state = %rt.state, pid = ?rt.pid, "server state");
        self.publish(EventKind::ServerState {
            server: rt.id.clone(),
            node: name.to_owned(),
            runtime: rt,
        });
        self.notify_changed();
        Ok(())
    }

    /// Publishes a server's application event (a render's playback events) sent by its node.
    pub fn server_event(&self, name: &str, ev: ForwardedEvent) -> Result<(), ModelError> {
        let known = self
            .live()
            .index
            .servers
            .get(&ev.server)
            .is_some_and(|s| s.node == name);
        if !known {
            return Err(ModelError::NotOnNode {
                node: name.to_owned(),
                server: ev.server,
            });
        }
        self.publish(EventKind::Server {
            server: ev.server,
            payload: ev.payload,
        });
        Ok(())
    }

    /// Marks down every up node silent for longer than `timeout`; its next heartbeat is refused
    /// so that it re-registers with its full state.
    pub fn mark_silent_nodes_down(&self, timeout: Duration) {
        let down: Vec<String> = {
            let mut live = self.live();
            live.nodes
                .iter_mut()
                .filter(|(_, n)| n.up && n.last_seen.elapsed() > timeout)
                .map(|(name, n)| {
                    n.up = false;
                    n.needs_register = true;
                    name.clone()
                })
                .collect()
        };
        for node in down {
            tracing::warn!(node = %node, timeout_ms = timeout.as_millis() as u64, "node down: no heartbeat");
            self.publish(EventKind::NodeDown { node });
            self.notify_changed();
        }
    }
}
