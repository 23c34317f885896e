//! `gridadmin`: parse the command line and hand over to [`grid_admin::run`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match grid_admin::cli::Cli::try_parse() {
        Ok(cli) => grid_admin::run(cli),
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
