//! The session with the registry: register, heartbeat, push state changes, re-register.
//!
//! One task does all of it, so pushes leave in the order the supervisor made them and never race
//! a registration. While the registry is away nothing else changes: servers keep running and the
//! session retries every heartbeat interval.

use std::time::Duration;

use grid_proto::api::{Heartbeat, HeartbeatReply, HostInfo, NodeRegister, NodeRegistered};
use grid_proto::client::{Client, ClientError};
use grid_proto::paths;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::host::LoadSampler;
use crate::supervisor::{Handle, Push};

/// Until the registry says otherwise.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);
/// Registry calls must not hold up the session for long.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The registry session's state.
pub struct Session {
    name: String,
    endpoint: String,
    address: String,
    client: Client,
    sup: Handle,
    pushes: mpsc::UnboundedReceiver<Push>,
    host: HostInfo,
    load: LoadSampler,
    heartbeat: Duration,
    registered: bool,
    outage_logged: bool,
    /// Pushes up to this number are already in the last registration.
    covered: u64,
}

impl Session {
    /// A session for node `name`, reachable at `endpoint`.
    pub fn new(
        name: String,
        endpoint: String,
        address: String,
        client: Client,
        sup: Handle,
        pushes: mpsc::UnboundedReceiver<Push>,
    ) -> Self {
        Self {
            name,
            endpoint,
            address,
            client,
            sup,
            pushes,
            host: crate::host::host_info(),
            load: LoadSampler::default(),
            heartbeat: DEFAULT_HEARTBEAT,
            registered: false,
            outage_logged: false,
            covered: 0,
        }
    }

    /// Runs until `cancel`; then sends the pushes still queued (bounded), so the registry sees
    /// the servers of a stopping node go down.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut next = Instant::now();
        loop {
            tokio::select! {
                () = cancel.cancelled() => break,
                p = self.pushes.recv() => match p {
                    Some(p) => self.on_push(p).await,
                    None => return,
                },
                () = tokio::time::sleep_until(next) => {
                    self.tick().await;
                    next = Instant::now() + self.heartbeat;
                }
            }
        }
        let drain = async {
            while let Ok(p) = self.pushes.try_recv() {
                self.on_push(p).await;
            }
        };
        let _ = tokio::time::timeout(CLIENT_TIMEOUT, drain).await;
    }

    async fn tick(&mut self) {
        if self.registered {
            self.heartbeat().await;
        } else {
            self.register().await;
        }
    }

    async fn on_push(&mut self, p: Push) {
        // Unregistered: the next registration carries the full state instead.
        if !self.registered || p.seq <= self.covered {
            return;
        }
        let path = paths::fill(paths::NODE_SERVER_STATE, &[&self.name]);
        let r: Result<serde_json::Value, _> = self.client.post(&path, &p.runtime).await;
        if let Err(e) = r {
            tracing::debug!(server = %p.runtime.id, "state push failed: {e}");
            self.registered = false;
            self.register().await;
        }
    }

    async fn register(&mut self) {
        let Ok(snap) = self.sup.status().await else {
            return;
        };
        let body = NodeRegister {
            endpoint: self.endpoint.clone(),
            address: self.address.clone(),
            host: self.host.clone(),
            load: self.load.sample(),
            servers: snap.status.servers,
        };
        let path = paths::fill(paths::NODE_REGISTER, &[&self.name]);
        match self.client.post::<_, NodeRegistered>(&path, &body).await {
            Ok(reply) => {
                self.registered = true;
                self.outage_logged = false;
                self.covered = snap.seq;
                self.heartbeat = Duration::from_millis(reply.heartbeat_ms.clamp(50, 60_000));
                tracing::info!(registry = %self.client.base(), "registered with registry");
                let _ = self.sup.apply(reply.assignment, true).await;
            }
            Err(e) => self.lost(&e),
        }
    }

    async fn heartbeat(&mut self) {
        let Ok(snap) = self.sup.status().await else {
            return;
        };
        let body = Heartbeat {
            load: self.load.sample(),
            assignment_serial: snap.status.assignment_serial,
        };
        let path = paths::fill(paths::NODE_HEARTBEAT, &[&self.name]);
        match self.client.post::<_, HeartbeatReply>(&path, &body).await {
            Ok(reply) => {
                if let Some(a) = reply.assignment {
                    let _ = self.sup.apply(a, true).await;
                }
            }
            // The registry forgot us (restarted, or declared us down): register again now.
            Err(e) if matches!(e.status(), Some(401 | 404)) => {
                tracing::info!("registry does not know this node: {e}; registering again");
                self.registered = false;
                self.register().await;
            }
            Err(e) => self.lost(&e),
        }
    }

    /// Logs an outage once, and re-registers when the registry is back.
    fn lost(&mut self, e: &ClientError) {
        self.registered = false;
        if !self.outage_logged {
            self.outage_logged = true;
            if e.is_unreachable() {
                tracing::warn!("registry unreachable: {e}");
            } else {
                tracing::warn!(registry = %self.client.base(), "registry refused the node: {e}");
            }
        }
    }
}
