//! `media-control`: parse the command line and hand over to [`media_control::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    grid_proto::console::main(media_control::run)
}
