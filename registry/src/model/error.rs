//! Why a model operation was refused; `api/` maps each case to a status.

use grid_proto::descriptor::DescriptorError;

use crate::store::StoreError;

/// A refused or failed model operation.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The descriptor does not parse or expand.
    #[error("invalid descriptor: {0}")]
    InvalidDescriptor(#[source] DescriptorError),
    /// An update whose descriptor names another application than its path.
    #[error("the descriptor is named '{named}', not '{path}'")]
    NameMismatch {
        /// The name in the descriptor.
        named: String,
        /// The name in the request path.
        path: String,
    },
    /// An id or group another application already uses.
    #[error("{what} is already {verb} by application '{owner}'")]
    Taken {
        /// What is taken (`server id 'X'`).
        what: String,
        /// `used` or `defined`.
        verb: &'static str,
        /// The application that has it.
        owner: String,
    },
    /// Adding an application that exists.
    #[error("application '{0}' already exists; use update")]
    AppExists(String),
    /// No such application.
    #[error("unknown application '{0}'")]
    UnknownApp(String),
    /// No such server.
    #[error("unknown server '{0}'")]
    UnknownServer(String),
    /// Starting a disabled server.
    #[error("server '{0}' is disabled; enable it first")]
    Disabled(String),
    /// No such node.
    #[error("unknown node '{0}'")]
    UnknownNode(String),
    /// A node call from a node that must (re-)register first.
    #[error("unknown node '{0}'; register first")]
    MustRegister(String),
    /// A node forwarding an event for a server it does not run.
    #[error("node '{node}' has no server '{server}'")]
    NotOnNode {
        /// The node.
        node: String,
        /// The server it named.
        server: String,
    },
    /// A locate of an id that is neither an adapter nor a replica group.
    #[error("unknown adapter or replica group '{0}'")]
    UnknownLocate(String),
    /// A node that never registered.
    #[error("node '{0}' has not registered")]
    NodeUnregistered(String),
    /// A node that stopped sending heartbeats.
    #[error("node '{0}' is down")]
    NodeDown(String),
    /// An on-demand server that did not become active within its activation timeout.
    #[error("on-demand server '{0}' did not become active in time")]
    ActivationTimeout(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
