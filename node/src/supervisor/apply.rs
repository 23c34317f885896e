//! Applying an assignment: diff it against the table by descriptor equality, and cache it.

use std::collections::BTreeSet;
use std::path::Path;

use grid_proto::api::{Assignment, ServerState};

use super::{Entry, Supervisor, Then, adopt};

/// Reads the assignment cached by the last run, if there is a readable one.
pub fn load_cache(path: &Path) -> Option<Assignment> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %path.display(), "cannot read cached assignment: {e}");
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(a) => Some(a),
        Err(e) => {
            tracing::warn!(file = %path.display(), "ignoring unreadable cached assignment: {e}");
            None
        }
    }
}

impl Supervisor {
    /// Makes the table match `a`; with `persist`, caches it for a boot without registry.
    pub(super) fn apply(&mut self, a: Assignment, persist: bool) {
        if persist {
            let written = serde_json::to_vec_pretty(&a)
                .map_err(std::io::Error::other)
                .and_then(|b| adopt::write_atomic(&self.settings.cache_file, &b));
            if let Err(e) = written {
                tracing::warn!(file = %self.settings.cache_file.display(), "cannot cache assignment: {e}");
            }
        }
        if a.serial != self.serial {
            tracing::info!(
                serial = a.serial,
                servers = a.servers.len(),
                "applying assignment"
            );
        }
        self.serial = a.serial;
        let wanted: BTreeSet<&str> = a.servers.iter().map(|s| s.descriptor.id.as_str()).collect();
        let gone: Vec<String> = self
            .table
            .keys()
            .filter(|id| !wanted.contains(id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            if self.table.get(&id).is_some_and(|e| e.then != Then::Destroy) {
                self.destroy(&id);
            }
        }
        for s in a.servers {
            let id = s.descriptor.id.clone();
            let Some(e) = self.table.get_mut(&id) else {
                let mut e = Entry::new(s.descriptor);
                e.enabled = s.enabled;
                e.stopped = s.stopped;
                let run = e.wants_running();
                self.table.insert(id.clone(), e);
                self.push(&id);
                if run {
                    self.start_proc(&id);
                }
                continue;
            };
            let was_destroying = e.then == Then::Destroy;
            if was_destroying {
                e.then = Then::Nothing;
            }
            e.enabled = s.enabled;
            e.stopped = s.stopped;
            e.desc = s.descriptor;
            let may_run = e.enabled && !e.stopped;
            let wants = e.wants_running();
            match e.proc.as_ref().map(|p| (p.stopping, p.desc == e.desc)) {
                Some(_) if !may_run => {
                    e.then = Then::Nothing;
                    self.begin_stop(&id);
                }
                Some((false, false)) => {
                    // A changed descriptor: restart if it runs on its own or was running anyway.
                    tracing::info!(server = %id, "descriptor changed; restarting");
                    e.then = Then::Start;
                    self.begin_stop(&id);
                }
                Some((true, _)) => {
                    // Already stopping (perhaps removed and re-added): start again afterwards.
                    if wants || e.then == Then::Start {
                        e.then = Then::Start;
                    }
                }
                Some((false, true)) => {
                    if was_destroying {
                        let state = e.rt.state;
                        self.set_state(&id, state);
                    }
                }
                None => {
                    if !may_run {
                        e.restart_gen = None;
                        e.rt.next_restart_ms = None;
                        if was_destroying || e.rt.state != ServerState::Inactive {
                            self.set_state(&id, ServerState::Inactive);
                        }
                    } else if wants && e.restart_gen.is_none() {
                        self.start_proc(&id);
                    } else if was_destroying {
                        self.set_state(&id, ServerState::Inactive);
                    }
                }
            }
        }
    }
}
