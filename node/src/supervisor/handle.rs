//! The supervisor's handle: async calls that send a command and await its reply.

use std::path::PathBuf;

use grid_proto::api::{Assignment, NodeStatus, ReadyReport, ServerRuntime};
use nix::sys::signal::Signal;
use tokio::sync::{mpsc, oneshot};

use super::{Command, Msg, Snapshot, SupError, Waiter};

/// A cheap, cloneable way to talk to the supervisor.
#[derive(Clone)]
pub struct Handle {
    pub(super) tx: mpsc::UnboundedSender<Msg>,
}

impl Handle {
    async fn call<T>(
        &self,
        cmd: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, SupError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Cmd(cmd(tx)))
            .map_err(|_| SupError::ShuttingDown)?;
        rx.await.map_err(|_| SupError::ShuttingDown)
    }

    /// Applies an assignment (and caches it when `persist`); returns once the changes are under way.
    pub async fn apply(&self, a: Assignment, persist: bool) -> Result<NodeStatus, SupError> {
        self.call(|tx| Command::Apply(a, persist, tx)).await
    }

    /// Starts (or restarts) a server and waits until it is active or has failed.
    pub async fn start(&self, id: &str, restart: bool) -> Result<ServerRuntime, SupError> {
        let w = self
            .call(|tx| Command::Start(id.to_owned(), restart, tx))
            .await??;
        self.wait(id, w).await
    }

    /// Stops a server and waits until it is inactive.
    pub async fn stop(&self, id: &str) -> Result<ServerRuntime, SupError> {
        let w = self.call(|tx| Command::Stop(id.to_owned(), tx)).await??;
        self.wait(id, w).await
    }

    async fn wait(&self, id: &str, w: Waiter) -> Result<ServerRuntime, SupError> {
        match tokio::time::timeout(w.bound, w.rx).await {
            Ok(Ok(rt)) => Ok(rt),
            // Timed out or the entry went away: answer with whatever is true now.
            _ => self
                .status()
                .await?
                .status
                .servers
                .into_iter()
                .find(|s| s.id == id)
                .ok_or_else(|| SupError::Unknown(id.to_owned())),
        }
    }

    /// Sends a signal to a server's process group.
    pub async fn signal(&self, id: &str, sig: Signal) -> Result<ServerRuntime, SupError> {
        self.call(|tx| Command::Signal(id.to_owned(), sig, tx))
            .await?
    }

    /// A server reports its endpoints.
    pub async fn ready(&self, id: &str, report: ReadyReport) -> Result<(), SupError> {
        self.call(|tx| Command::Ready(id.to_owned(), report, tx))
            .await?
    }

    /// Checks a server's per-spawn token (for its application events).
    pub async fn check_token(&self, id: &str, token: String) -> Result<(), SupError> {
        self.call(|tx| Command::CheckToken(id.to_owned(), token, tx))
            .await?
    }

    /// Everything the node runs.
    pub async fn status(&self) -> Result<Snapshot, SupError> {
        self.call(Command::Status).await
    }

    /// A server's stdout and stderr log paths.
    pub async fn log_paths(&self, id: &str) -> Result<(PathBuf, PathBuf), SupError> {
        self.call(|tx| Command::LogPaths(id.to_owned(), tx)).await?
    }

    /// Stops every server and refuses to start any more; returns when all are down.
    pub async fn shutdown(&self) -> Result<(), SupError> {
        self.call(Command::Shutdown).await
    }

    /// Refuses to start any more servers and leaves the running ones running.
    pub async fn detach(&self) -> Result<(), SupError> {
        self.call(Command::Detach).await
    }
}
