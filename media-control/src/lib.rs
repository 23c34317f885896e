//! `media-control`, the command-line control client of the Spotifice media plane: it lists
//! the renders and the library and drives a render (load, play, pause, resume, stop, next, status,
//! queue), one command per run or in an interactive shell (`docs/media.md`).
//!
//! - [`cli`]: the command line and the one `Command` enum the shell shares.
//! - [`locate`]: finding renders and MediaServers through the registry.
//! - [`tracks`]: which track a TRACK argument means.
//! - [`commands`]: each command as HTTP calls.
//! - [`format`]: tables, durations, the status block.
//! - [`icy_decode`]: an ICY stream on standard input, decoded (`icy-decode`).
//! - [`shell`]: the rustyline loop.
//! - [`output`]: the only module that prints.

pub mod cli;
pub mod commands;
pub mod format;
pub mod icy_decode;
pub mod locate;
pub mod output;
pub mod shell;
pub mod tracks;

use std::process::ExitCode;

use crate::cli::Cli;
use crate::locate::Grid;
use crate::output::Output;

/// Runs media-control as `cli` says: 0 on success, 1 on any error.
pub fn run(cli: Cli) -> ExitCode {
    let out = Output::new(cli.json, "media-control");
    if let Some(ca) = &cli.ca
        && let Err(e) = grid_proto::tls::trust_file(ca)
    {
        out.error(&format!("--ca: {e}"));
        return ExitCode::FAILURE;
    }
    let Some(rt) = grid_proto::console::runtime(&out) else {
        return ExitCode::FAILURE;
    };
    let credentials = cli.user.clone().zip(cli.password.clone());
    let grid = match Grid::new(&cli.registry, credentials) {
        Ok(g) => g,
        Err(e) => {
            out.error(&format!("{e:#}"));
            return ExitCode::FAILURE;
        }
    };
    let Some(cmd) = cli.command else {
        return shell::run(&rt, &grid, &out);
    };
    match rt.block_on(commands::run(&cmd, &grid, &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&explain(&e, &grid));
            ExitCode::FAILURE
        }
    }
}

/// An error as printed: with what to do when a render wanted a session and none was given.
pub fn explain(e: &anyhow::Error, grid: &Grid) -> String {
    let refused = e.chain().any(|c| {
        c.downcast_ref::<grid_proto::client::ClientError>()
            .is_some_and(|ce| ce.status() == Some(401))
    });
    if refused && !grid.has_credentials() {
        format!(
            "{e:#} (give media-control an operator's -u USER -p PASSWORD, or GRID_USER and GRID_PASSWORD)"
        )
    } else {
        format!("{e:#}")
    }
}
