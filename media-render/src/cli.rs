//! Command line of `media-render`.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// How audio is pulled from a MediaServer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FetchMode {
    /// One streamed `/data` body per (re)open; TCP flow control is the back-pressure.
    Stream,
    /// One `get_audio_chunk` request per chunk.
    Chunk,
}

impl FetchMode {
    /// The flag's spelling, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stream => "stream",
            Self::Chunk => "chunk",
        }
    }
}

/// The Spotifice MediaRender. Started by a grid node, it takes its identity from the `GRID_*`
/// environment and reports its endpoint to the node; started by hand, it just serves.
#[derive(Debug, Parser)]
#[command(name = "media-render", version)]
pub struct Cli {
    /// The registry, to locate MediaServers (its node sets GRID_REGISTRY_URL).
    #[arg(long, value_name = "URL", env = "GRID_REGISTRY_URL")]
    pub registry: Option<String>,
    /// The replica group of the MediaServers to stream from.
    #[arg(long, value_name = "GROUP", default_value = grid_proto::media::SERVER_GROUP)]
    pub group: String,
    /// Where played audio goes: `null`, `file:PATH` (appended, byte for byte) or `exec:CMD`
    /// (`sh -c CMD` fed on stdin, e.g. `exec:mpv -`).
    #[arg(long, value_name = "SINK", default_value = "null")]
    pub sink: String,
    /// Read-ahead buffer, in milliseconds of audio: it hides a MediaServer failover.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub buffer_ms: u64,
    /// Playback speed: 1 = real time, 50 = fifty times faster, 0 = as fast as possible.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub speed: f64,
    /// Chunk size of `get_audio_chunk` while the buffer is full (4096, the interface's chunk).
    #[arg(long, value_name = "BYTES", default_value_t = grid_proto::media::CHUNK_SIZE)]
    pub chunk: usize,
    /// How audio is fetched: `stream` (one streamed body) or `chunk` (one request per chunk).
    #[arg(long, value_enum, value_name = "MODE", default_value = "stream")]
    pub fetch: FetchMode,
    /// A MediaServer endpoint to stream from instead of locating the group (repeatable): for
    /// running a render by hand or in tests without a registry.
    #[arg(long = "server", value_name = "URL")]
    pub servers: Vec<String>,
    /// Address to listen on [default: the node's host (GRID_HOST) on port 0, else 127.0.0.1:0].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// After binding, write the bound address here (for scripts and tests using port 0).
    #[arg(long, value_name = "PATH")]
    pub addr_file: Option<PathBuf>,
    #[command(flatten)]
    pub limits: grid_proto::serve::LimitFlags,
    /// More logging (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}
