//! Tracing setup shared by every binary: logs go to stderr, which the node or start-all captures.

use tracing_subscriber::EnvFilter;

/// Installs the subscriber on stderr: `-v` count → level (0 info, 1 debug, 2+ trace), `RUST_LOG`
/// overrides.
pub fn init_tracing(verbose: u8) {
    init(verbose, false);
}

/// Like [`init_tracing`], on stdout: for grid servers, whose stdout the node writes to their log
/// file (`mediaserver1.log`), leaving stderr to panics and the last error.
pub fn init_tracing_stdout(verbose: u8) {
    init(verbose, true);
}

fn init(verbose: u8, stdout: bool) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || -> Box<dyn std::io::Write> {
            if stdout {
                Box::new(std::io::stdout())
            } else {
                Box::new(std::io::stderr())
            }
        })
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

/// For CLIs: only warnings and errors unless `RUST_LOG` says otherwise.
pub fn init_quiet_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}
