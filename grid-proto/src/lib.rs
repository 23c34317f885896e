//! `grid-proto`: what the Spotifice Grid processes share.
//!
//! - [`descriptor`]: the application descriptor (TOML or JSON), its validation and its expansion
//!   into concrete per-node server descriptors.
//! - [`icegrid`]: IceGrid XML application descriptors, translated into [`descriptor`]'s model.
//! - [`api`]: every type that crosses the wire between registry, nodes, servers and clients.
//! - [`paths`]: the route paths, used by the routers and by [`client`] alike so they cannot drift.
//! - [`client`]: the one HTTP/JSON client every binary uses; [`error`]: errors in words.
//! - [`ids`]: track ids and channel names, each with its one rule.
//! - [`secret`]: comparing secrets in constant time.
//! - [`live`]: live channels' stats, and a render's channel (`docs/live.md`).
//! - [`media`]: the MediaServer and MediaRender interfaces (`docs/media.md`).
//! - [`icy`]: the ICY (Shoutcast) codec of live channels: request, reply and segment encoders, and
//!   the incremental parser.
//! - [`server_env`]: how a node hands a server its identity, and how the server reports ready.
//! - [`metrics`]: what every process's `GET /metrics` shares; [`scrape`] (feature `scrape`):
//!   a scrape parsed, for tests and the benchmark.
//! - [`telemetry`] and [`shutdown`]: the runtime helpers every daemon's `main` uses.
//! - [`console`] (feature `console`): the command-line clients' printing and shell loop.
//! - [`config`] (feature `config`): the daemons' `--config FILE`, keys named like their flags.
//! - [`serve`] (feature `serve`): serving HTTP with bounded clients, for every listener.
#![warn(missing_docs)]

pub mod access;
pub mod api;
pub mod client;
#[cfg(feature = "config")]
pub mod config;
#[cfg(feature = "console")]
pub mod console;
pub mod descriptor;
pub mod error;
pub mod icegrid;
pub mod icy;
pub mod ids;
pub mod live;
pub mod media;
pub mod metrics;
pub mod paths;
pub mod private;
#[cfg(feature = "scrape")]
pub mod scrape;
pub mod secret;
#[cfg(feature = "serve")]
pub mod serve;
pub mod server_env;
pub mod shutdown;
pub mod splice;
pub mod sse;
pub mod telemetry;
pub mod tls;

/// Sent in the `x-grid-protocol` header by every client; a mismatch is logged.
pub const PROTOCOL_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The name of the protocol header.
pub const PROTOCOL_HEADER: &str = "x-grid-protocol";
/// The header that carries the cluster secret on node → registry and registry → node calls.
pub const SECRET_HEADER: &str = "x-grid-secret";
/// The header a render sends its stream token in (`secret::token`, [`secret::Purpose::Stream`]).
pub const STREAM_TOKEN_HEADER: &str = "x-grid-stream-token";
/// The header the registry's gateway sends a render's control token in.
pub const CONTROL_TOKEN_HEADER: &str = "x-grid-control-token";

/// Milliseconds since the Unix epoch, the time unit of every timestamp on the wire.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Writes `contents` to `path` through a temporary file and a rename, so a reader never sees
/// half of it (`--addr-file`, caches, the cluster secret); the file is the grid user's alone
/// ([`private::write_atomic`]).
pub fn write_atomic(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    private::write_atomic(path, contents)
}
