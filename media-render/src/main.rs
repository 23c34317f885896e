//! `media-render` entry point; everything testable lives in the library.
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use grid_proto::server_env::ServerEnv;
use media_render::{RenderConfig, cli::Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    grid_proto::telemetry::init_tracing_stdout(cli.verbose);
    let config = match RenderConfig::new(&cli, ServerEnv::from_env()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let id = config.id.clone();
    let addr = grid_proto::server_env::listen_addr(cli.listen.as_deref(), config.grid.as_ref());
    grid_proto::server_env::run_server(&id, async move {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        media_render::run(
            config,
            listener,
            grid_proto::shutdown::shutdown_signal_named(),
        )
        .await
    })
}
