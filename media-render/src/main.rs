//! `media-render` entry point; everything testable lives in the library.
use std::process::ExitCode;

use clap::Parser;
use grid_proto::server_env::{self, ServerEnv};
use media_render::{RenderConfig, cli::Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    grid_proto::telemetry::init_tracing_stdout(cli.verbose);
    // A node that speaks TLS names the grid CA its servers' clients must trust.
    if let Err(e) = grid_proto::tls::trust_env() {
        eprintln!("Error: {} (the grid CA): {e}", grid_proto::tls::CA_FILE_ENV);
        return ExitCode::from(2);
    }
    let config = match RenderConfig::new(&cli, ServerEnv::from_env()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let id = config.id.clone();
    let addr = server_env::listen_addr(cli.listen.as_deref(), config.grid.as_ref());
    server_env::serve_on(&id, &addr, server_env::BACKLOG, |listener| {
        media_render::run(
            config,
            listener,
            grid_proto::shutdown::shutdown_signal_named(),
        )
    })
}
