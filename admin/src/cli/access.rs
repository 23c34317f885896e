//! `user`, `session` and `audit`: who may use the grid, and what they did.

use clap::{Args, Subcommand};
use grid_proto::access::Role;

/// `user ...`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum UserCmd {
    /// List the users with their role, live sessions and whether they must change password.
    List,
    /// Add a user; the password is asked for (or read from stdin with -e) and must be
    /// changed at the user's first login.
    Add {
        /// User name (letters, digits, '.', '_', '-').
        name: String,
        /// admin (everything), operator (start, stop, restart, enable, disable, renders) or
        /// viewer (read only).
        #[arg(short, long, default_value = "viewer")]
        role: Role,
    },
    /// Change your own password, or (as an admin) another user's; the user's other sessions
    /// end. The new password is asked for (or read from stdin with -e).
    Passwd {
        /// Whose password (yours when left out).
        name: Option<String>,
    },
    /// Give a user another role (the last admin stays admin).
    Role {
        /// User name.
        name: String,
        /// admin, operator or viewer.
        role: Role,
    },
    /// Remove a user and end their sessions (the last admin stays).
    Remove {
        /// User name.
        name: String,
    },
}

/// `session ...`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum SessionCmd {
    /// List live sessions (an admin sees everyone's; `*` marks this one).
    List,
    /// End a session by its id.
    Revoke {
        /// Session id, from `session list`.
        id: String,
    },
}

/// `audit [--since T] [--limit N]`
#[derive(Debug, Clone, PartialEq, Args)]
pub struct AuditArgs {
    /// Only entries since T: a time (2026-12-04T10:00:00Z, 2026-12-04 10:00:00) or a span
    /// back from now (90s, 15m, 2h, 3d).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// At most the newest N entries (1 to 10000).
    #[arg(short = 'n', long, value_name = "N", default_value_t = 1000)]
    pub limit: usize,
}
