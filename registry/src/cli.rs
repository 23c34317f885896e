//! Command line of `gridregistry`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// The Spotifice Grid registry: applications, nodes, servers, the locator and admin sessions.
#[derive(Debug, Parser)]
#[command(name = "gridregistry", version)]
pub struct Cli {
    /// TOML file whose keys are these flags' long names (`heartbeat-ms = 1000`); flags and
    /// GRID_* variables win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "GRID_REGISTRY_LISTEN", default_value = "127.0.0.1:4061")]
    pub listen: SocketAddr,
    /// Database directory (created if missing).
    #[arg(long, env = "GRID_REGISTRY_DATA", default_value = "registry_data")]
    pub data: PathBuf,
    /// After binding, write the bound address here (for scripts and tests using port 0).
    #[arg(long)]
    pub addr_file: Option<PathBuf>,
    /// Heartbeat interval handed to nodes, in ms.
    #[arg(long, env = "GRID_HEARTBEAT_MS", default_value_t = 1000)]
    pub heartbeat_ms: u64,
    /// A node silent for this long is marked down, in ms.
    #[arg(long, env = "GRID_NODE_TIMEOUT_MS", default_value_t = 3500)]
    pub node_timeout_ms: u64,
    /// The largest request body accepted (a descriptor, above all), in bytes; a larger one is
    /// answered 413.
    #[arg(long, value_name = "BYTES", env = "GRID_MAX_BODY", default_value_t = 2 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1024..=1024 * 1024 * 1024))]
    pub max_body: u64,
    #[command(flatten)]
    pub limits: grid_proto::serve::LimitFlags,
    /// Speak HTTPS: the registry makes a grid CA in its data directory (ca.pem, ca.key) on
    /// first start and serves with a certificate of it; clients trust ca.pem (--ca).
    #[arg(long, env = "GRID_TLS", value_name = "BOOL", num_args = 0..=1,
          default_value_t = false, default_missing_value = "true",
          action = clap::ArgAction::Set)]
    pub tls: bool,
    /// More logging (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}
