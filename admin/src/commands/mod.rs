//! Runs one parsed [`Command`] against the registry: one module per resource.

mod access;
mod adapter;
mod application;
mod channel;
mod node;
mod registry;
mod server;
mod watch;

use anyhow::{Result, anyhow};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cli::Command;
use crate::output::Output;
use crate::session::Session;

/// Runs `cmd`; every failure comes back as one printable error.
pub async fn run(cmd: &Command, session: &mut Session, out: &Output) -> Result<()> {
    match cmd {
        Command::Application(c) => application::run(c, session, out).await,
        Command::Server(c) => server::run(c, session, out).await,
        Command::Node(c) => node::run(c, session, out).await,
        Command::Adapter(c) => adapter::run(c, session, out).await,
        Command::Registry(c) => registry::run(c, session, out).await,
        Command::Channel(c) => channel::run(c, session, out).await,
        Command::User(c) => access::user(c, session, out).await,
        Command::Session(c) => access::session(c, session, out).await,
        Command::Audit(a) => access::audit(a, session, out).await,
        Command::Watch => {
            // Until Ctrl-C or SIGTERM, which end the watch, not gridadmin's shell.
            tokio::select! {
                r = watch::run(session, out) => r,
                _ = grid_proto::shutdown::shutdown_signal() => Ok(()),
            }
        }
    }
}

/// Reads a registry reply as `T`.
pub(crate) fn decode<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| anyhow!("unexpected answer from the registry: {e}"))
}

/// Prints a reply: as it came with `--json`, else as `human` renders it.
pub(crate) fn emit<T: DeserializeOwned>(
    out: &Output,
    value: Value,
    human: impl FnOnce(&T) -> String,
) -> Result<()> {
    if out.json {
        out.json(&value);
    } else {
        out.text(&human(&decode(value)?));
    }
    Ok(())
}
