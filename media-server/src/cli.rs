//! Command line of `media-server`.

use std::path::PathBuf;

use clap::Parser;

/// The Spotifice MediaServer. Started by a grid node, it takes its identity from the `GRID_*`
/// environment and reports its endpoint to the node; started by hand, it just serves.
#[derive(Debug, Parser)]
#[command(name = "media-server", version)]
pub struct Cli {
    /// Address to listen on [default: the node's host (GRID_HOST) on port 0, else 127.0.0.1:0].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The track library directory.
    #[arg(long, value_name = "DIR", default_value = "media")]
    pub library: PathBuf,
    /// After binding, write the bound address here (for scripts and tests using port 0).
    #[arg(long, value_name = "PATH")]
    pub addr_file: Option<PathBuf>,
    /// Streams untouched for this long (no chunk read, no `/data` body running) are reaped.
    #[arg(long, value_name = "MS", default_value_t = 60_000)]
    pub stream_idle_ms: u64,
    /// At most this many open streams (each holds its track's file open). Opening one more
    /// reaps the least recently used stream with no `/data` body running, else answers 503.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_streams: u64,
    /// The live channels to broadcast (a TOML file, `docs/live.md`); none without it.
    #[arg(long, value_name = "FILE")]
    pub channels: Option<PathBuf>,
    /// The live distributor's tick: every channel's listeners get one write each this often.
    #[arg(long, value_name = "MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(10..=2000))]
    pub live_tick_ms: u64,
    /// The URL others reach this server at (`http://HOST:PORT`), when it is not the bound
    /// address: a server bound to 0.0.0.0 by hand, or behind NAT. It names the server's live
    /// channels in a distribution tree, and is the endpoint reported to a node.
    #[arg(long, value_name = "URL")]
    pub advertise: Option<String>,
    /// The registry, to locate the upstreams of `grid:` relays (a node sets GRID_REGISTRY_URL).
    #[arg(long, value_name = "URL", env = "GRID_REGISTRY_URL")]
    pub registry: Option<String>,
    /// The control port (`docs/live.md`): `HOST:PORT`, or a `PORT` alone on the HTTP
    /// listener's host (what a grid node wants); none without it.
    #[arg(long, value_name = "ADDR")]
    pub control: Option<String>,
    /// After binding the control port, write its address here (before `--addr-file`).
    #[arg(long, value_name = "PATH")]
    pub control_addr_file: Option<PathBuf>,
    /// At most this many control connections at once; more are answered `ERR` and closed.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub control_max_clients: u64,
    #[command(flatten)]
    pub limits: grid_proto::serve::LimitFlags,
    /// More logging (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}
