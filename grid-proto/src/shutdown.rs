//! The shutdown signal every daemon's `main` hands to `run`.

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => tracing::info!(signal = "SIGINT", "shutting down"),
                _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
            }
        }
        _ => {
            tracing::warn!("cannot install signal handlers; only Ctrl-C stops this process");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
