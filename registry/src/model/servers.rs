//! Durable server changes: the admin's intent (enabled, stopped), persisted as flags.

use std::collections::BTreeSet;

use grid_proto::api::EventKind;

use super::error::ModelError;
use super::handle::{Model, Push};
use crate::store;

impl Model {
    /// The node a server is placed on.
    pub fn server_node(&self, id: &str) -> Result<String, ModelError> {
        self.live()
            .index
            .servers
            .get(id)
            .map(|s| s.node.clone())
            .ok_or_else(|| ModelError::UnknownServer(id.to_owned()))
    }

    /// Records that an admin wants the server running; refused while it is disabled. Returns
    /// its node.
    pub async fn start_server(&self, id: &str) -> Result<(String, Push), ModelError> {
        self.set_flags(id, None, Some(false), true).await
    }

    /// Records that an admin stopped the server: it stays stopped until started. Returns its
    /// node.
    pub async fn stop_server(&self, id: &str) -> Result<(String, Push), ModelError> {
        self.set_flags(id, None, Some(true), false).await
    }

    /// Enables or disables a server; a disabled server is never started.
    pub async fn enable_server(&self, id: &str, enabled: bool) -> Result<Push, ModelError> {
        self.set_flags(id, Some(enabled), None, false)
            .await
            .map(|(_, push)| push)
    }

    /// Changes a server's persisted flags, if they change, and bumps the assignment serial.
    async fn set_flags(
        &self,
        server: &str,
        enabled: Option<bool>,
        stopped: Option<bool>,
        must_be_enabled: bool,
    ) -> Result<(String, Push), ModelError> {
        let writer = self.writer().await;
        let (old, serial, node) = {
            let live = self.live();
            let s = live
                .index
                .servers
                .get(server)
                .ok_or_else(|| ModelError::UnknownServer(server.to_owned()))?;
            (
                live.flags_of(server),
                live.assignment_serial + 1,
                s.node.clone(),
            )
        };
        if must_be_enabled && !old.enabled {
            return Err(ModelError::Disabled(server.to_owned()));
        }
        let new = store::flags_with(old, enabled, stopped);
        if new == old {
            return Ok((node, Push::none()));
        }
        self.store().put_flags(server, new, serial).await?;
        {
            let mut live = self.live();
            live.flags.insert(server.to_owned(), new);
            live.assignment_serial = serial;
        }
        self.publish(EventKind::ServerFlags {
            server: server.to_owned(),
            enabled: new.enabled,
            stopped: new.stopped,
        });
        let push = Push::new(BTreeSet::from([node.clone()]), writer);
        Ok((node, push))
    }
}
