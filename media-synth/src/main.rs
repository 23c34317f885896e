//! `media-synth`: parse the command line, hand over to [`media_synth::cli::run`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = media_synth::cli::Cli::parse();
    match media_synth::cli::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("media-synth: {e:#}");
            ExitCode::FAILURE
        }
    }
}
