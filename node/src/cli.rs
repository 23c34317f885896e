//! Command-line flags of `gridnode` (clap derive; the doc comments are the help text).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

/// What the node does with its servers when a signal (SIGTERM, SIGINT) stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnStop {
    /// Stop every server first (SIGTERM to its group, SIGKILL after its deactivation timeout).
    Stop,
    /// Leave them running; the next node started on the same data dir adopts them.
    Leave,
}

/// The Spotifice Grid node: registers with the registry, runs the servers it is assigned and keeps
/// them alive.
#[derive(Debug, Clone, Parser)]
#[command(name = "gridnode", version)]
pub struct Cli {
    /// TOML file whose keys are these flags' long names (`backoff-max-ms = 30000`); flags and
    /// GRID_* variables win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Node name, as the descriptors place servers on it.
    #[arg(long, env = "GRID_NODE_NAME")]
    pub name: String,

    /// The registry's URL.
    #[arg(
        long,
        env = "GRID_REGISTRY_URL",
        default_value = "http://127.0.0.1:4061"
    )]
    pub registry: String,

    /// Data directory: the assignment cache and the pid files (default `<name>_data`).
    #[arg(long)]
    pub data: Option<PathBuf>,

    /// Address the node listens on; its servers bind and advertise it too.
    #[arg(long, env = "GRID_NODE_ADDRESS", default_value = "127.0.0.1")]
    pub address: IpAddr,

    /// Port of the node API (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,

    /// File holding the cluster secret (the registry writes `<data>/cluster.secret`); wins over
    /// --secret.
    #[arg(long)]
    pub secret_file: Option<PathBuf>,

    /// The grid CA's certificate (the registry's data/ca.pem), needed for an https:// registry:
    /// the node then serves its own API over TLS too, with a certificate the registry issues.
    #[arg(long, env = "GRID_CA_FILE", value_name = "FILE")]
    pub ca: Option<PathBuf>,

    /// The cluster secret itself (prefer --secret-file or the environment).
    #[arg(long, env = "GRID_CLUSTER_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// Working directory: server log files and the default server cwd (default: current dir).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,

    /// After binding, write the bound `ip:port` to this file.
    #[arg(long)]
    pub addr_file: Option<PathBuf>,

    /// First backoff delay of a crash-looping server, in ms.
    #[arg(long, default_value_t = 100)]
    pub backoff_base_ms: u64,

    /// Longest backoff delay, in ms.
    #[arg(long, default_value_t = 30_000)]
    pub backoff_max_ms: u64,

    /// A server that stayed up this long (ms) starts its backoff afresh.
    #[arg(long, default_value_t = 10_000)]
    pub backoff_reset_ms: u64,

    /// Rotate a server log file once it grows past this many bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub log_max_bytes: u64,

    /// Rotated log files kept per log (`.1` … `.N`).
    #[arg(long, default_value_t = 3)]
    pub log_keep: u32,

    /// On SIGTERM or SIGINT: `stop` the servers first, or `leave` them running for the next
    /// node to adopt (`POST /v1/shutdown` always stops them).
    #[arg(long, value_enum, env = "GRID_NODE_ON_STOP", default_value_t = OnStop::Stop)]
    pub on_stop: OnStop,

    #[command(flatten)]
    pub limits: grid_proto::serve::LimitFlags,

    /// More logging (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,
}
