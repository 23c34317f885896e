//! `media-server` entry point; everything testable lives in the library.
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use grid_proto::server_env::ServerEnv;
use media_server::{ServerConfig, cli::Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    grid_proto::telemetry::init_tracing_stdout(cli.verbose);
    let config = ServerConfig::new(&cli, ServerEnv::from_env());
    let id = config.id.clone();
    let addr = grid_proto::server_env::listen_addr(cli.listen.as_deref(), config.grid.as_ref());
    grid_proto::server_env::run_server(&id, async move {
        let listener = bind(&addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        media_server::run(
            config,
            listener,
            grid_proto::shutdown::shutdown_signal_named(),
        )
        .await
    })
}

/// Listens on `addr` with a deep accept queue: live listeners join in bursts (thousands a
/// second), and a full queue drops SYNs, which clients retry only a second or more later.
async fn bind(addr: &str) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(4096)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
}
