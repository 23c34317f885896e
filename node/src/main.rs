//! `gridnode`: parse the flags, set up logging, bind, run.

use anyhow::Context;
use grid_node::cli::Cli;
use grid_node::config::Config;

// One thread is plenty for a supervisor and keeps the node's memory small.
#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli: Cli = grid_proto::config::parse();
    grid_proto::telemetry::init_tracing(cli.verbose);
    let config = Config::from_cli(&cli)?;
    let listener = tokio::net::TcpListener::bind((config.address, cli.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", config.address, cli.port))?;
    let shutdown = async {
        let signal = grid_proto::shutdown::shutdown_signal_named().await;
        tracing::info!(signal, "shutting down");
    };
    grid_node::run(config, listener, shutdown).await
}
