//! `gridadmin`, the Spotifice Grid admin client: an interactive shell (`gridadmin -u admin -p admin`)
//! and a one-shot runner for scripts (`-e "server list"`), both speaking the registry's HTTP API.
//!
//! - [`cli`]: the command line and the one `Command` enum the shell and `-e` share.
//! - [`session`]: login and the authenticated registry client.
//! - [`commands`]: one module per resource, each turning a command into registry calls.
//! - [`shell`]: the rustyline loop, history and completion.
//! - [`output`]: the only module that prints; [`prompt`]: reading a new password.

pub mod cli;
pub mod commands;
pub mod output;
pub mod prompt;
pub mod session;
pub mod shell;

use std::process::ExitCode;

use crate::cli::{Cli, LineError, ShellCommand, parse_line};
use crate::output::Output;
use crate::session::Session;

/// Runs gridadmin as `cli` says; the exit code is 0 on success, 1 on any error.
pub fn run(cli: Cli) -> ExitCode {
    if cli.verbose > 0 {
        grid_proto::telemetry::init_tracing(cli.verbose);
    } else {
        grid_proto::telemetry::init_quiet_tracing();
    }
    let out = Output::new(cli.json, "error");
    if let Some(ca) = &cli.ca
        && let Err(e) = grid_proto::tls::trust_file(ca)
    {
        out.error(&format!("--ca: {e}"));
        return ExitCode::FAILURE;
    }
    let Some(rt) = grid_proto::console::runtime(&out) else {
        return ExitCode::FAILURE;
    };
    let mut session = Session::new(&cli.registry, cli.user, cli.password);
    if cli.execute.is_empty() {
        shell::run(&rt, &mut session, &out)
    } else {
        session.set_scripted(true);
        execute(&rt, &mut session, &out, &cli.execute)
    }
}

/// Runs each `-e` command in order and stops at the first failure.
fn execute(
    rt: &tokio::runtime::Runtime,
    session: &mut Session,
    out: &Output,
    lines: &[String],
) -> ExitCode {
    let mut warned = false;
    for line in lines {
        let (cmd, out) = match parse_line(line) {
            Ok(None) => continue,
            Ok(Some(parsed)) => match parsed.command {
                ShellCommand::Exit => break,
                ShellCommand::Run(cmd) => (cmd, out.or_json(parsed.json)),
            },
            Err(LineError::Quoting) => {
                out.error(&format!("unbalanced quotes in '{line}'"));
                return ExitCode::FAILURE;
            }
            Err(LineError::Clap(e)) => {
                out.clap(&e);
                if e.use_stderr() {
                    return ExitCode::FAILURE;
                }
                continue;
            }
        };
        if let Some(missing) = session.missing_credentials() {
            out.error(&format!("gridadmin -e needs {missing}"));
            return ExitCode::FAILURE;
        }
        let done = rt.block_on(commands::run(&cmd, session, &out));
        if session.must_change_password() && !warned {
            warned = true;
            out.warning(&must_change_warning(session));
        }
        if let Err(e) = done {
            out.error(&format!("{e:#}"));
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// What a script is told while its user still has a password they were given.
pub fn must_change_warning(session: &Session) -> String {
    format!(
        "user '{}' still has the password it was given; choose another with `gridadmin -e \"user passwd\"` (the shell and the web console insist on it)",
        session.user().unwrap_or_default()
    )
}
