//! `media-server` entry point; everything testable lives in the library.
use std::process::ExitCode;

use clap::Parser;
use grid_proto::server_env::ServerEnv;
use media_server::{ServerConfig, cli::Cli};

/// A deep accept queue: live listeners join in bursts (thousands a second), and a full queue
/// drops SYNs, which clients retry only a second or more later.
const BACKLOG: u32 = 4096;

fn main() -> ExitCode {
    let cli = Cli::parse();
    grid_proto::telemetry::init_tracing_stdout(cli.verbose);
    // A node that speaks TLS names the grid CA its servers' clients must trust.
    if let Err(e) = grid_proto::tls::trust_env() {
        eprintln!("Error: {} (the grid CA): {e}", grid_proto::tls::CA_FILE_ENV);
        return ExitCode::from(2);
    }
    let config = ServerConfig::new(&cli, ServerEnv::from_env());
    let id = config.id.clone();
    let addr = grid_proto::server_env::listen_addr(cli.listen.as_deref(), config.grid.as_ref());
    grid_proto::server_env::serve_on(&id, &addr, BACKLOG, |listener| {
        media_server::run(
            config,
            listener,
            grid_proto::shutdown::shutdown_signal_named(),
        )
    })
}
