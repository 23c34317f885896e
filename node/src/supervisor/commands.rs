//! The node API's server commands: start, restart, stop, signal.

use std::time::Duration;

use grid_proto::api::{ServerRuntime, ServerState};
use nix::sys::signal::Signal;
use tokio::sync::oneshot;

use super::{SupError, Supervisor, Then, WAIT_MARGIN, Waiter, resolve, stop};

impl Supervisor {
    pub(super) fn start_cmd(&mut self, id: &str, restart: bool) -> Result<Waiter, SupError> {
        if self.shutdown.is_some() {
            return Err(SupError::ShuttingDown);
        }
        let e = self
            .table
            .get_mut(id)
            .filter(|e| e.then != Then::Destroy)
            .ok_or_else(|| SupError::Unknown(id.to_owned()))?;
        if !e.enabled {
            return Err(SupError::Disabled(id.to_owned()));
        }
        e.stopped = false;
        let bound =
            Duration::from_millis(e.desc.activation_timeout_ms + e.desc.deactivation_timeout_ms)
                + WAIT_MARGIN;
        let (tx, rx) = oneshot::channel();
        let waiter = Waiter { rx, bound };
        match e.proc.as_ref().map(|p| p.stopping) {
            Some(true) => {
                e.then = Then::Start;
                e.to_active.push(tx);
            }
            Some(false) if restart => {
                e.then = Then::Start;
                e.to_active.push(tx);
                self.begin_stop(id);
            }
            Some(false) if e.rt.state == ServerState::Active => {
                let _ = tx.send(e.rt.clone());
            }
            Some(false) => e.to_active.push(tx),
            None => {
                // An explicit start is a fresh attempt, not one more step of a crash loop.
                e.failures = 0;
                e.to_active.push(tx);
                self.start_proc(id);
                if let Some(e) = self.table.get_mut(id)
                    && e.proc.is_none()
                {
                    let rt = e.rt.clone();
                    resolve(&mut e.to_active, &rt);
                }
            }
        }
        Ok(waiter)
    }

    pub(super) fn signal_cmd(&mut self, id: &str, sig: Signal) -> Result<ServerRuntime, SupError> {
        let (e, p) = self.running(id)?;
        tracing::info!(server = %id, pid = p.pid, signal = sig.as_str(), "sending signal");
        stop::kill_group(p.pid, sig);
        Ok(e.rt.clone())
    }

    pub(super) fn stop_cmd(&mut self, id: &str) -> Result<Waiter, SupError> {
        let e = self
            .table
            .get_mut(id)
            .ok_or_else(|| SupError::Unknown(id.to_owned()))?;
        e.stopped = true;
        if e.then == Then::Start {
            e.then = Then::Nothing;
        }
        let bound = Duration::from_millis(e.desc.deactivation_timeout_ms) + WAIT_MARGIN;
        let (tx, rx) = oneshot::channel();
        e.to_inactive.push(tx);
        self.begin_stop(id);
        Ok(Waiter { rx, bound })
    }
}
