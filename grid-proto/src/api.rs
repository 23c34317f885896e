//! The wire types: JSON bodies exchanged by the registry, the nodes, the servers and the clients.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::descriptor::{Activation, ServerDescriptor};

/// The single error shape of every API: `{ "error": "...", "detail": ... }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// One human sentence saying what was wrong.
    pub error: String,
    /// Optional structured detail (the field that failed validation, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// A server's lifecycle state, as in IceGrid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ServerState {
    /// Not running.
    #[default]
    Inactive,
    /// Spawned, not yet reported ready.
    Activating,
    /// Running and ready: its adapters are in locate results.
    Active,
    /// Being stopped.
    Deactivating,
    /// Being removed from its node.
    Destroying,
    /// Removed from its node.
    Destroyed,
}

impl ServerState {
    /// Every state, in the order of a server's life (metrics list each, even with no server).
    pub const ALL: [ServerState; 6] = [
        Self::Inactive,
        Self::Activating,
        Self::Active,
        Self::Deactivating,
        Self::Destroying,
        Self::Destroyed,
    ];

    /// The lowercase name used on the wire and in the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Activating => "activating",
            Self::Active => "active",
            Self::Deactivating => "deactivating",
            Self::Destroying => "destroying",
            Self::Destroyed => "destroyed",
        }
    }
}

impl std::fmt::Display for ServerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a node knows about one of its servers at run time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServerRuntime {
    /// The server id.
    pub id: String,
    /// Its lifecycle state.
    pub state: ServerState,
    /// The pid of the process (the group leader) while one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Restarts the node made because the server exited unasked.
    #[serde(default)]
    pub restart_count: u32,
    /// How the last process ended (`exit status 1`, `killed by SIGKILL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_exit: Option<String>,
    /// Why the server is not running as it should (spawn error, crash loop, activation timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// When the node will try again, for a server in backoff (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_restart_ms: Option<u64>,
    /// When the current process started (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    /// Adapter id → endpoint URL, while active.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
}

/// Static facts about a node's host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct HostInfo {
    /// Host name.
    pub hostname: String,
    /// OS name and version.
    pub os: String,
    /// Kernel release.
    pub kernel: String,
    /// CPU architecture.
    pub arch: String,
    /// Logical CPUs.
    pub cpus: usize,
}

/// A node's load, sent with every heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Load {
    /// Load average over 1 minute.
    pub load1: f64,
    /// Load average over 5 minutes.
    pub load5: f64,
    /// Load average over 15 minutes.
    pub load15: f64,
    /// Memory in use, bytes.
    pub memory_used: u64,
    /// Total memory, bytes.
    pub memory_total: u64,
}

/// One server as the registry assigns it to a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignedServer {
    /// The fully expanded descriptor.
    pub descriptor: ServerDescriptor,
    /// Disabled servers are never started.
    pub enabled: bool,
    /// An admin stopped it: it stays stopped until started.
    pub stopped: bool,
}

/// The complete set of servers a node must host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Assignment {
    /// Grows with every change of the set.
    pub serial: u64,
    /// The servers.
    pub servers: Vec<AssignedServer>,
}

/// `POST /v1/nodes/{name}/register`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRegister {
    /// The URL of the node's own API, on the node's address.
    pub endpoint: String,
    /// The node's address, which its servers bind and advertise.
    pub address: String,
    /// Host facts.
    pub host: HostInfo,
    /// Current load.
    pub load: Load,
    /// Everything the node runs now, so a restarted registry learns it.
    pub servers: Vec<ServerRuntime>,
}

/// The answer to a registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeRegistered {
    /// The servers the node must host.
    pub assignment: Assignment,
    /// How often to send heartbeats.
    pub heartbeat_ms: u64,
}

/// `POST /v1/nodes/{name}/heartbeat`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Current load.
    pub load: Load,
    /// The serial of the assignment the node holds; the registry re-sends a newer one.
    pub assignment_serial: u64,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeartbeatReply {
    /// A newer assignment, if the node's is out of date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Assignment>,
}

/// A server reports readiness to its node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReadyReport {
    /// The per-spawn token the node put in the server's environment.
    pub token: String,
    /// Adapter name → endpoint URL.
    pub endpoints: BTreeMap<String, String>,
}

/// `POST /v1/nodes/{name}/server-event`: a server's application event, forwarded by its node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForwardedEvent {
    /// Server id.
    pub server: String,
    /// The event as the server sent it.
    pub payload: serde_json::Value,
}

/// A node as listed by the registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeView {
    /// Node name.
    pub name: String,
    /// Is it sending heartbeats?
    pub up: bool,
    /// The node's API URL.
    pub endpoint: String,
    /// The node's address.
    pub address: String,
    /// Host facts.
    pub host: HostInfo,
    /// Last reported load.
    pub load: Load,
    /// Milliseconds since the last heartbeat.
    pub last_seen_ms_ago: u64,
    /// Ids of the servers assigned to it.
    pub servers: Vec<String>,
}

/// A server as listed by the registry: descriptor facts plus run-time state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerView {
    /// Server id.
    pub id: String,
    /// Application it belongs to.
    pub application: String,
    /// Node it is placed on.
    pub node: String,
    /// Is that node up?
    pub node_up: bool,
    /// Activation mode.
    pub activation: Activation,
    /// Enabled flag (persisted).
    pub enabled: bool,
    /// Stopped by an admin (persisted).
    pub stopped: bool,
    /// The node's last report.
    pub runtime: ServerRuntime,
}

/// `GET /v1/servers/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerDetail {
    /// Listing facts.
    #[serde(flatten)]
    pub view: ServerView,
    /// The expanded descriptor.
    pub descriptor: ServerDescriptor,
}

/// An application in a listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationSummary {
    /// Name.
    pub name: String,
    /// Grows with every update.
    pub serial: u64,
    /// Number of servers.
    pub servers: usize,
    /// Last change, ms since the epoch.
    pub updated_ms: u64,
}

/// `GET /v1/applications/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationDetail {
    /// Name.
    pub name: String,
    /// Grows with every update.
    pub serial: u64,
    /// Last change, ms since the epoch.
    pub updated_ms: u64,
    /// The descriptor as it was submitted.
    pub source: String,
    /// The expanded servers.
    pub servers: Vec<ServerDescriptor>,
    /// Its replica groups with their policies.
    #[serde(default)]
    pub replica_groups: BTreeMap<String, crate::descriptor::ReplicaGroup>,
}

/// Body of add, update and diff: the descriptor text (TOML, or JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DescriptorSource {
    /// The descriptor text.
    pub source: String,
}

/// What an application change does to its servers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ApplicationDiff {
    /// Application name.
    pub name: String,
    /// Does the application exist yet?
    pub exists: bool,
    /// Servers that would be created.
    pub added: Vec<String>,
    /// Servers that would be destroyed.
    pub removed: Vec<String>,
    /// Servers whose expanded descriptor changes (they restart).
    pub changed: Vec<String>,
    /// Servers left as they are.
    pub unchanged: Vec<String>,
}

/// The answer to add / update / remove.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationChanged {
    /// Application name.
    pub name: String,
    /// New serial (0 after removal).
    pub serial: u64,
    /// What changed.
    pub diff: ApplicationDiff,
}

/// An adapter as listed by the registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdapterView {
    /// Adapter id (`MediaServer-1.Adapter`).
    pub id: String,
    /// Server that owns it.
    pub server: String,
    /// Node of that server.
    pub node: String,
    /// Replica group, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_group: Option<String>,
    /// Current endpoint, while the server is active and its node up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// The answer to `locate`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LocateReply {
    /// What was located.
    pub id: String,
    /// `adapter` or `replica-group`.
    pub kind: String,
    /// Live endpoints, ordered by the group's policy.
    pub endpoints: Vec<LocatedEndpoint>,
}

/// One live endpoint in a locate answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocatedEndpoint {
    /// Adapter id.
    pub adapter: String,
    /// Server id.
    pub server: String,
    /// URL.
    pub endpoint: String,
}

/// `POST /v1/sessions`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// User name.
    pub user: String,
    /// Password, in clear over the wire; stored only as an argon2 hash.
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The answer to a login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginReply {
    /// Bearer token.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in_s: u64,
    /// The user's role.
    #[serde(default)]
    pub role: crate::access::Role,
    /// The user still has a password they were given (the default one, or one an admin set)
    /// and should choose their own (`PUT /v1/users/{name}/password`).
    #[serde(default)]
    pub must_change_password: bool,
}

/// `GET /v1/registry`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistryInfo {
    /// Software version.
    pub version: String,
    /// Address it listens on.
    pub listen: String,
    /// Its sled directory.
    pub data_dir: String,
    /// Seconds since start.
    pub uptime_s: u64,
    /// Applications deployed.
    pub applications: usize,
    /// Nodes known.
    pub nodes: usize,
    /// Nodes up.
    pub nodes_up: usize,
    /// Servers deployed.
    pub servers: usize,
    /// Serial of the last event.
    pub event_serial: u64,
}

/// A node's answer to a ping / status request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Node name.
    pub name: String,
    /// Seconds since the node started.
    pub uptime_s: u64,
    /// Assignment serial it holds.
    pub assignment_serial: u64,
    /// Its servers.
    pub servers: Vec<ServerRuntime>,
}

/// A server's log, or its tail.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogReply {
    /// The log file's path on the node.
    pub path: String,
    /// Its length in bytes (for `--follow`: ask again from here).
    pub size: u64,
    /// The text.
    pub text: String,
}

/// `POST /v1/servers/{id}/signal`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignalRequest {
    /// Signal name (`SIGHUP`, `HUP`) or number.
    pub signal: String,
}

/// One event of `GET /v1/events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// Grows by one with every event.
    pub serial: u64,
    /// Milliseconds since the epoch.
    pub time_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What an event says.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EventKind {
    /// Sent first on every subscription: the whole current state.
    Snapshot {
        /// Applications.
        applications: Vec<ApplicationSummary>,
        /// Nodes.
        nodes: Vec<NodeView>,
        /// Servers.
        servers: Vec<ServerView>,
    },
    /// A node registered or came back.
    NodeUp {
        /// Node name.
        node: String,
    },
    /// A node missed its heartbeats.
    NodeDown {
        /// Node name.
        node: String,
    },
    /// A server changed state.
    ServerState {
        /// Server id.
        server: String,
        /// Its node.
        node: String,
        /// New run-time state.
        runtime: ServerRuntime,
    },
    /// An admin enabled, disabled, started or stopped a server: its persisted flags changed.
    ServerFlags {
        /// Server id.
        server: String,
        /// May it run at all?
        enabled: bool,
        /// Stopped by an admin (stays down until started)?
        stopped: bool,
    },
    /// An application was added.
    ApplicationAdded {
        /// Name.
        name: String,
        /// Serial.
        serial: u64,
    },
    /// An application was updated.
    ApplicationUpdated {
        /// Name.
        name: String,
        /// Serial.
        serial: u64,
    },
    /// An application was removed.
    ApplicationRemoved {
        /// Name.
        name: String,
    },
    /// An application-level event published by a server (a render's playback events).
    Server {
        /// Server id.
        server: String,
        /// Free-form payload.
        payload: serde_json::Value,
    },
}
