//! Server lifecycle inside the supervisor: spawn, readiness, exits, restarts and adoption.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use grid_proto::api::{ReadyReport, ServerRuntime, ServerState};
use grid_proto::now_ms;
use nix::sys::signal::Signal;

use super::adopt::{self, PidFile};
use super::{Entry, Event, Msg, Proc, SupError, Supervisor, Then, child, policy, resolve, stop};
use crate::metrics::Reason;

/// `last_exit` of an adopted process: it is not our child, so its status cannot be read.
const ADOPTED_EXIT: &str = "exited (adopted process, status unknown)";

/// Answers every waiter with the runtime.
fn seconds(ms: u64) -> String {
    format!("{:.1}", ms as f64 / 1000.0)
}

impl Supervisor {
    /// Records a new state: log line, push to the registry, pid file, active waiters.
    pub(super) fn set_state(&mut self, id: &str, state: ServerState) {
        let Some(e) = self.table.get_mut(id) else {
            return;
        };
        e.rt.state = state;
        match &e.rt.failure {
            Some(f) => tracing::info!(server = %id, pid = e.rt.pid, failure = %f, "{state}"),
            None => tracing::info!(server = %id, pid = e.rt.pid, "{state}"),
        }
        if state == ServerState::Active {
            let rt = e.rt.clone();
            resolve(&mut e.to_active, &rt);
        }
        self.save_pid_file(id);
        self.push(id);
    }

    /// Sends the server's current runtime to the session.
    pub(super) fn push(&mut self, id: &str) {
        if let Some(e) = self.table.get(id) {
            self.seq += 1;
            let _ = self.pushes.send(super::Push {
                seq: self.seq,
                runtime: e.rt.clone(),
            });
        }
    }

    fn save_pid_file(&self, id: &str) {
        let Some(e) = self.table.get(id) else { return };
        let Some(p) = &e.proc else { return };
        let pf = PidFile {
            pid: p.pid,
            start_time: p.start_time,
            descriptor: p.desc.clone(),
            endpoints: e.rt.endpoints.clone(),
            state: e.rt.state,
            token: p.token.clone(),
            started_ms: e.rt.started_ms.unwrap_or(0),
            restart_count: e.rt.restart_count,
        };
        if let Err(err) = adopt::save(&self.settings.run_dir, &pf) {
            tracing::warn!(server = %id, "cannot write pid file: {err}");
        }
    }

    /// Spawns the entry's descriptor; a spawn error is a failure like a crash.
    pub(super) fn start_proc(&mut self, id: &str) {
        if self.shutdown.is_some() {
            return;
        }
        let Some(e) = self.table.get_mut(id) else {
            return;
        };
        if e.proc.is_some() {
            return;
        }
        e.restart_gen = None;
        e.rt.next_restart_ms = None;
        let spawned = match child::spawn(&self.settings.spawn, &e.desc) {
            Ok(s) => s,
            Err(reason) => {
                // The state line that follows carries the reason.
                e.rt.failure = Some(format!("cannot start: {reason}"));
                self.after_failure(id, Duration::ZERO, Reason::SpawnError);
                return;
            }
        };
        let epoch = self.next_gen;
        self.next_gen += 1;
        let pid = spawned.pid;
        e.proc = Some(Proc {
            epoch,
            pid,
            start_time: adopt::start_time(pid).unwrap_or(0),
            token: spawned.token,
            desc: e.desc.clone(),
            since: Instant::now(),
            stopping: false,
            timed_out: None,
        });
        e.rt.pid = Some(pid);
        e.rt.started_ms = Some(now_ms());
        e.rt.endpoints.clear();
        let no_adapters = e.desc.adapters.is_empty();
        let activation = Duration::from_millis(e.desc.activation_timeout_ms);
        self.rotator.watch(spawned.logs.0);
        self.rotator.watch(spawned.logs.1);

        let tx = self.tx.clone();
        let mut child = spawned.child;
        let wid = id.to_owned();
        tokio::spawn(async move {
            let how = match child.wait().await {
                Ok(status) => child::describe_exit(&status),
                Err(err) => format!("lost track of the process: {err}"),
            };
            // The leader is gone: take any grandchild with it.
            stop::kill_group(pid, Signal::SIGKILL);
            let _ = tx.send(Msg::Event(Event::Exited {
                id: wid,
                epoch,
                how,
            }));
        });

        self.set_state(id, ServerState::Activating);
        if no_adapters {
            if let Some(e) = self.table.get_mut(id) {
                e.rt.failure = None;
            }
            self.set_state(id, ServerState::Active);
        } else {
            let id = id.to_owned();
            self.after(activation, Event::ActivationTimeout { id, epoch });
        }
    }

    /// After an unasked exit or a spawn error: restart by policy, or settle as inactive.
    /// `uptime` is how long the process ran, `reason` how it ended.
    fn after_failure(&mut self, id: &str, uptime: Duration, reason: Reason) {
        let backoff = self.settings.backoff;
        let Some(e) = self.table.get_mut(id) else {
            return;
        };
        e.failed_for = reason;
        e.failures = backoff.next_failures(e.failures, uptime);
        e.rt.state = ServerState::Inactive;
        let rt = e.rt.clone();
        resolve(&mut e.to_active, &rt);
        resolve(&mut e.to_inactive, &rt);
        if !e.wants_running() || self.shutdown.is_some() {
            self.set_state(id, ServerState::Inactive);
            return;
        }
        let delay = backoff.delay(e.failures, policy::jitter());
        if delay.is_zero() {
            self.set_state(id, ServerState::Inactive);
            if let Some(e) = self.table.get_mut(id) {
                e.rt.restart_count += 1;
            }
            self.settings.metrics.restarted(id, reason);
            self.start_proc(id);
            return;
        }
        let why =
            e.rt.failure
                .clone()
                .filter(|f| !f.contains("next try"))
                .unwrap_or_else(|| format!("exited {} times in a row", e.failures));
        e.rt.failure = Some(format!(
            "{why}; next try in {} s",
            seconds(delay.as_millis() as u64)
        ));
        e.rt.next_restart_ms = Some(now_ms() + delay.as_millis() as u64);
        let epoch = self.next_gen;
        self.next_gen += 1;
        e.restart_gen = Some(epoch);
        self.set_state(id, ServerState::Inactive);
        self.after(
            delay,
            Event::RestartDue {
                id: id.to_owned(),
                epoch,
            },
        );
    }

    pub(super) fn on_restart_due(&mut self, id: &str, epoch: u64) {
        let Some(e) = self.table.get_mut(id) else {
            return;
        };
        if e.restart_gen != Some(epoch) || e.proc.is_some() || !e.wants_running() {
            return;
        }
        e.rt.restart_count += 1;
        self.settings.metrics.restarted(id, e.failed_for);
        self.start_proc(id);
    }

    pub(super) fn on_exit(&mut self, id: &str, epoch: u64, how: String) {
        let Some(e) = self.table.get_mut(id) else {
            return;
        };
        if e.proc.as_ref().is_none_or(|p| p.epoch != epoch) {
            return;
        }
        let Some(p) = e.proc.take() else { return };
        adopt::remove(&self.settings.run_dir, id);
        tracing::info!(server = %id, pid = p.pid, how = %how, "exited");
        e.rt.pid = None;
        e.rt.started_ms = None;
        e.rt.endpoints.clear();
        e.rt.last_exit = Some(how);
        if e.then == Then::Destroy {
            self.finish_destroy(id);
            return;
        }
        if p.stopping {
            e.failures = 0;
            e.rt.failure = None;
            let restart = e.then == Then::Start && e.enabled && self.shutdown.is_none();
            e.then = Then::Nothing;
            e.rt.state = ServerState::Inactive;
            let rt = e.rt.clone();
            resolve(&mut e.to_inactive, &rt);
            self.set_state(id, ServerState::Inactive);
            if restart {
                self.start_proc(id);
            }
            if let Some(e) = self.table.get_mut(id)
                && e.proc.is_none()
            {
                let rt = e.rt.clone();
                resolve(&mut e.to_active, &rt);
            }
            return;
        }
        let reason = Reason::of_exit(e.rt.last_exit.as_deref(), p.timed_out.is_some());
        if let Some(t) = p.timed_out {
            e.rt.failure = Some(t);
        } else {
            e.rt.failure = None;
        }
        self.after_failure(id, p.since.elapsed(), reason);
    }

    pub(super) fn on_activation_timeout(&mut self, id: &str, epoch: u64) {
        let Some(e) = self.table.get_mut(id) else {
            return;
        };
        let Some(p) = e.proc.as_mut().filter(|p| p.epoch == epoch && !p.stopping) else {
            return;
        };
        if e.rt.state != ServerState::Activating {
            return;
        }
        let text = format!(
            "did not report ready within {} s",
            seconds(p.desc.activation_timeout_ms)
        );
        tracing::warn!(server = %id, pid = p.pid, "{text}; killing it");
        p.timed_out = Some(text);
        stop::kill_group(p.pid, Signal::SIGKILL);
    }

    /// The running process of `id`, if `token` is its per-spawn token.
    pub(super) fn check_token(&self, id: &str, token: &str) -> Result<&Proc, SupError> {
        let (_, p) = self.running(id)?;
        if !grid_proto::secret::eq(p.token.as_bytes(), token.as_bytes()) {
            return Err(SupError::BadToken(id.to_owned()));
        }
        Ok(p)
    }

    pub(super) fn ready(&mut self, id: &str, report: ReadyReport) -> Result<(), SupError> {
        let adapters = self.check_token(id, &report.token)?.desc.adapters.clone();
        let e = self
            .table
            .get_mut(id)
            .ok_or_else(|| SupError::Unknown(id.to_owned()))?;
        let Some(p) = e.proc.as_ref() else {
            return Err(SupError::NotRunning(id.to_owned()));
        };
        let mut endpoints = BTreeMap::new();
        for a in &adapters {
            let url = report.endpoints.get(&a.name).ok_or_else(|| {
                SupError::BadRequest(format!("no endpoint for adapter '{}'", a.name))
            })?;
            endpoints.insert(a.id.clone(), url.clone());
        }
        if p.stopping {
            return Ok(());
        }
        if e.rt.state == ServerState::Activating {
            self.settings.metrics.started(id, p.since.elapsed());
        }
        e.rt.endpoints = endpoints;
        e.rt.failure = None;
        self.set_state(id, ServerState::Active);
        Ok(())
    }

    /// Takes over a process that outlived a previous node: same pid, state and endpoints.
    pub(super) fn adopt(&mut self, pf: PidFile) {
        let id = pf.descriptor.id.clone();
        let epoch = self.next_gen;
        self.next_gen += 1;
        let uptime = Duration::from_millis(now_ms().saturating_sub(pf.started_ms));
        let mut e = Entry::new(pf.descriptor.clone());
        let state = match pf.state {
            ServerState::Active => ServerState::Active,
            _ if pf.descriptor.adapters.is_empty() => ServerState::Active,
            _ => ServerState::Activating,
        };
        e.rt = ServerRuntime {
            id: id.clone(),
            state,
            pid: Some(pf.pid),
            restart_count: pf.restart_count,
            started_ms: Some(pf.started_ms),
            endpoints: pf.endpoints.clone(),
            ..Default::default()
        };
        e.proc = Some(Proc {
            epoch,
            pid: pf.pid,
            start_time: pf.start_time,
            token: pf.token.clone(),
            desc: pf.descriptor.clone(),
            since: Instant::now()
                .checked_sub(uptime)
                .unwrap_or_else(Instant::now),
            stopping: false,
            timed_out: None,
        });
        tracing::info!(server = %id, pid = pf.pid, state = %state, "adopted running server");
        let activation = Duration::from_millis(pf.descriptor.activation_timeout_ms);
        self.table.insert(id.clone(), e);
        self.save_pid_file(&id);

        let tx = self.tx.clone();
        let (pid, start, wid) = (pf.pid, pf.start_time, id.clone());
        tokio::spawn(async move {
            adopt::wait_exit(pid, start).await;
            stop::kill_group(pid, Signal::SIGKILL);
            let how = ADOPTED_EXIT.to_owned();
            let _ = tx.send(Msg::Event(Event::Exited {
                id: wid,
                epoch,
                how,
            }));
        });
        if state == ServerState::Activating {
            self.after(activation, Event::ActivationTimeout { id, epoch });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_have_one_decimal() {
        assert_eq!(seconds(3200), "3.2");
    }
}
