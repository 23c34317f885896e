//! The shutdown signal every daemon's `main` hands to `run`.

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    shutdown_signal_named().await;
}

/// Completes on SIGINT or SIGTERM and says which came (`"SIGTERM"`), for a stop line.
pub async fn shutdown_signal_named() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            }
        }
        _ => {
            tracing::warn!("cannot install signal handlers; only Ctrl-C stops this process");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}
