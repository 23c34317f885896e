//! Command line of `media-render`.

use std::path::PathBuf;

use clap::Parser;

/// The Spotifice MediaRender. Started by a grid node, it takes its identity from the `GRID_*`
/// environment and reports its endpoint to the node; started by hand, it just serves.
#[derive(Debug, Parser)]
#[command(name = "media-render", version)]
pub struct Cli {
    /// The registry, to locate MediaServers (its node sets GRID_REGISTRY_URL).
    #[arg(long, value_name = "URL", env = "GRID_REGISTRY_URL")]
    pub registry: Option<String>,
    /// Address to listen on [default: the node's host (GRID_HOST) on port 0, else 127.0.0.1:0].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// After binding, write the bound address here (for scripts and tests using port 0).
    #[arg(long, value_name = "PATH")]
    pub addr_file: Option<PathBuf>,
    /// More logging (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}
