//! Stopping servers: SIGTERM to the process group, SIGKILL after the deactivation timeout, and
//! signal names.

use std::time::Duration;

use grid_proto::api::ServerState;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{Event, Supervisor, Then, resolve};

/// Signals a server's whole process group (its pid is the group id). A group that is already
/// gone is not an error worth reporting.
pub fn kill_group(pid: u32, sig: Signal) {
    let Ok(raw) = i32::try_from(pid) else { return };
    if raw <= 1 {
        return;
    }
    match killpg(Pid::from_raw(raw), sig) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(e) => tracing::warn!(
            pid,
            signal = sig.as_str(),
            "cannot signal process group: {e}"
        ),
    }
}

/// Parses `SIGHUP`, `HUP`, `hup` or `1`.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let t = text.trim();
    let sig = if let Ok(n) = t.parse::<i32>() {
        Signal::try_from(n).ok()
    } else {
        let upper = t.to_ascii_uppercase();
        let name = if upper.starts_with("SIG") {
            upper
        } else {
            format!("SIG{upper}")
        };
        name.parse::<Signal>().ok()
    };
    sig.ok_or_else(|| format!("'{text}' is not a signal name or number"))
}

impl Supervisor {
    /// Asks the server's process to exit; without a process, settles the entry at once.
    pub(super) fn begin_stop(&mut self, id: &str) {
        let Some(e) = self.table.get_mut(id) else {
            return;
        };
        e.restart_gen = None;
        e.rt.next_restart_ms = None;
        let Some(p) = e.proc.as_mut() else {
            if e.then == Then::Destroy {
                self.finish_destroy(id);
                return;
            }
            e.then = Then::Nothing;
            let rt = e.rt.clone();
            resolve(&mut e.to_inactive, &rt);
            if e.rt.state != ServerState::Inactive {
                self.set_state(id, ServerState::Inactive);
            }
            return;
        };
        if p.stopping {
            return;
        }
        p.stopping = true;
        let (pid, epoch) = (p.pid, p.epoch);
        let grace = Duration::from_millis(p.desc.deactivation_timeout_ms);
        let destroying = e.then == Then::Destroy;
        kill_group(pid, Signal::SIGTERM);
        if !destroying {
            self.set_state(id, ServerState::Deactivating);
        }
        self.after(
            grace,
            Event::StopTimeout {
                id: id.to_owned(),
                epoch,
            },
        );
    }

    pub(super) fn on_stop_timeout(&mut self, id: &str, epoch: u64) {
        let Some(p) = self.table.get(id).and_then(|e| e.proc.as_ref()) else {
            return;
        };
        if p.epoch == epoch && p.stopping {
            tracing::warn!(
                server = %id,
                pid = p.pid,
                "did not stop within {} ms; sending SIGKILL",
                p.desc.deactivation_timeout_ms
            );
            kill_group(p.pid, Signal::SIGKILL);
        }
    }

    /// The entry is gone from the assignment and has no process: report it destroyed, forget it.
    pub(super) fn finish_destroy(&mut self, id: &str) {
        let Some(e) = self.table.get_mut(id) else {
            return;
        };
        e.rt.pid = None;
        e.rt.endpoints.clear();
        e.rt.next_restart_ms = None;
        let rt = e.rt.clone();
        resolve(&mut e.to_active, &rt);
        resolve(&mut e.to_inactive, &rt);
        self.set_state(id, ServerState::Destroyed);
        self.table.remove(id);
        super::adopt::remove(&self.settings.run_dir, id);
    }

    /// Marks a server for removal and stops it.
    pub(super) fn destroy(&mut self, id: &str) {
        let Some(e) = self.table.get_mut(id) else {
            return;
        };
        e.then = Then::Destroy;
        self.set_state(id, ServerState::Destroying);
        self.begin_stop(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names_and_numbers() {
        for s in ["SIGHUP", "HUP", "hup", "1", " sighup "] {
            assert_eq!(parse_signal(s), Ok(Signal::SIGHUP), "{s}");
        }
        assert_eq!(parse_signal("9"), Ok(Signal::SIGKILL));
        assert_eq!(parse_signal("usr1"), Ok(Signal::SIGUSR1));
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
    }
}
