//! `gridadmin`: parse the command line and hand over to [`grid_admin::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    grid_proto::console::main(grid_admin::run)
}
