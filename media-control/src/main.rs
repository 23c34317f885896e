//! `media-control`: parse the command line and hand over to [`media_control::run`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match media_control::cli::Cli::try_parse() {
        Ok(cli) => media_control::run(cli),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
