//! The supervisor: the single owner of the process table.
//!
//! One task holds every server's entry and is the only code that changes process state. The API
//! and the session send it [`Command`]s with oneshot replies; per-child tasks and timers send it
//! [`Event`]s. Nothing here blocks on a process: a stop is SIGTERM now and a timer event later,
//! so one slow server never holds up the others.

pub mod adopt;
mod apply;
pub mod child;
mod commands;
mod handle;
mod lifecycle;
pub mod logs;
pub mod policy;
pub mod stop;

pub use self::apply::load_cache;
pub use self::handle::Handle;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use grid_proto::api::{Assignment, NodeStatus, ReadyReport, ServerRuntime};
use grid_proto::descriptor::ServerDescriptor;
use nix::sys::signal::Signal;
use tokio::sync::{mpsc, oneshot};

use self::child::SpawnContext;
use self::logs::Rotator;
use self::policy::Backoff;

/// Extra time an API call waits beyond a server's own timeouts.
const WAIT_MARGIN: Duration = Duration::from_secs(5);

/// Why a supervisor command was refused.
#[derive(Debug, thiserror::Error)]
pub enum SupError {
    /// No such server on this node.
    #[error("unknown server '{0}'")]
    Unknown(String),
    /// The server is disabled.
    #[error("server '{0}' is disabled")]
    Disabled(String),
    /// A readiness report with the wrong token.
    #[error("wrong readiness token for server '{0}'")]
    BadToken(String),
    /// The command needs a running process.
    #[error("server '{0}' is not running")]
    NotRunning(String),
    /// A malformed request.
    #[error("{0}")]
    BadRequest(String),
    /// The node is stopping.
    #[error("the node is shutting down")]
    ShuttingDown,
}

/// A state change for the registry, numbered so a registration snapshot can drop older ones.
#[derive(Debug, Clone)]
pub struct Push {
    /// Order of the change.
    pub seq: u64,
    /// The server's runtime after it.
    pub runtime: ServerRuntime,
}

/// The node status together with the last push number it includes.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Pushes up to this number are contained in `status`.
    pub seq: u64,
    /// The status.
    pub status: NodeStatus,
}

/// What the supervisor needs to know about the node.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Spawn context (names, URLs, directories).
    pub spawn: SpawnContext,
    /// `<data>/run`, the pid files.
    pub run_dir: PathBuf,
    /// `<data>/assignment.json`.
    pub cache_file: PathBuf,
    /// Restart backoff.
    pub backoff: Backoff,
    /// Restarts and start latencies, for `GET /metrics`.
    pub metrics: std::sync::Arc<crate::metrics::NodeMetrics>,
}

/// A reply that arrives once the server reached the awaited state, and how long to wait for it.
#[derive(Debug)]
pub struct Waiter {
    rx: oneshot::Receiver<ServerRuntime>,
    bound: Duration,
}

/// Answers every waiter with `rt`. Here, not in `lifecycle`, because `stop` and `commands`
/// settle waiters too and `lifecycle` uses them.
fn resolve(waiters: &mut Vec<oneshot::Sender<ServerRuntime>>, rt: &ServerRuntime) {
    for w in waiters.drain(..) {
        let _ = w.send(rt.clone());
    }
}

enum Command {
    Apply(Assignment, bool, oneshot::Sender<NodeStatus>),
    Start(String, bool, oneshot::Sender<Result<Waiter, SupError>>),
    Stop(String, oneshot::Sender<Result<Waiter, SupError>>),
    Signal(
        String,
        Signal,
        oneshot::Sender<Result<ServerRuntime, SupError>>,
    ),
    Ready(String, ReadyReport, oneshot::Sender<Result<(), SupError>>),
    CheckToken(String, String, oneshot::Sender<Result<(), SupError>>),
    Status(oneshot::Sender<Snapshot>),
    LogPaths(
        String,
        oneshot::Sender<Result<(PathBuf, PathBuf), SupError>>,
    ),
    Shutdown(oneshot::Sender<()>),
    Detach(oneshot::Sender<()>),
}

enum Event {
    Exited { id: String, epoch: u64, how: String },
    ActivationTimeout { id: String, epoch: u64 },
    StopTimeout { id: String, epoch: u64 },
    RestartDue { id: String, epoch: u64 },
}

enum Msg {
    Cmd(Command),
    Event(Event),
}

/// What to do once the current process is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Nothing,
    Start,
    Destroy,
}

/// A running (or adopted) process.
#[derive(Debug)]
struct Proc {
    epoch: u64,
    pid: u32,
    start_time: u64,
    token: String,
    desc: ServerDescriptor,
    since: Instant,
    stopping: bool,
    timed_out: Option<String>,
}

/// One server of the table.
#[derive(Debug)]
struct Entry {
    desc: ServerDescriptor,
    enabled: bool,
    stopped: bool,
    rt: ServerRuntime,
    proc: Option<Proc>,
    then: Then,
    failures: u32,
    /// How the last process that ended unasked ended: the reason of the restart that follows.
    failed_for: crate::metrics::Reason,
    restart_gen: Option<u64>,
    to_active: Vec<oneshot::Sender<ServerRuntime>>,
    to_inactive: Vec<oneshot::Sender<ServerRuntime>>,
}

impl Entry {
    fn new(desc: ServerDescriptor) -> Self {
        Self {
            rt: ServerRuntime {
                id: desc.id.clone(),
                ..Default::default()
            },
            desc,
            enabled: true,
            stopped: false,
            proc: None,
            then: Then::Nothing,
            failures: 0,
            failed_for: crate::metrics::Reason::Unknown,
            restart_gen: None,
            to_active: Vec::new(),
            to_inactive: Vec::new(),
        }
    }

    /// Should the node keep this server running on its own?
    fn wants_running(&self) -> bool {
        self.desc.activation == grid_proto::descriptor::Activation::Always
            && self.enabled
            && !self.stopped
            && self.then != Then::Destroy
    }
}

/// The actor.
pub struct Supervisor {
    settings: Settings,
    name: String,
    table: BTreeMap<String, Entry>,
    tx: mpsc::UnboundedSender<Msg>,
    pushes: mpsc::UnboundedSender<Push>,
    seq: u64,
    next_gen: u64,
    serial: u64,
    shutdown: Option<Vec<oneshot::Sender<()>>>,
    started: Instant,
    rotator: Rotator,
}

impl Supervisor {
    /// Starts the actor after adopting the servers of live pid files; returns its handle and
    /// the stream of state changes for the registry.
    pub fn spawn(
        name: String,
        settings: Settings,
        rotator: Rotator,
    ) -> (Handle, mpsc::UnboundedReceiver<Push>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let (ptx, prx) = mpsc::unbounded_channel();
        let mut sup = Self {
            settings,
            name,
            table: BTreeMap::new(),
            tx: tx.clone(),
            pushes: ptx,
            seq: 0,
            next_gen: 1,
            serial: 0,
            shutdown: None,
            started: Instant::now(),
            rotator,
        };
        for pf in adopt::load_live(&sup.settings.run_dir) {
            sup.adopt(pf);
        }
        tokio::spawn(sup.run(rx));
        (Handle { tx }, prx)
    }

    /// The entry of `id` and its running process.
    fn running(&self, id: &str) -> Result<(&Entry, &Proc), SupError> {
        let e = self
            .table
            .get(id)
            .ok_or_else(|| SupError::Unknown(id.to_owned()))?;
        let p = e
            .proc
            .as_ref()
            .ok_or_else(|| SupError::NotRunning(id.to_owned()))?;
        Ok((e, p))
    }

    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Cmd(c) => self.command(c),
                Msg::Event(e) => self.event(e),
            }
            self.check_shutdown_done();
        }
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Apply(a, persist, reply) => {
                self.apply(a, persist);
                let _ = reply.send(self.snapshot().status);
            }
            Command::Start(id, restart, reply) => {
                let _ = reply.send(self.start_cmd(&id, restart));
            }
            Command::Stop(id, reply) => {
                let _ = reply.send(self.stop_cmd(&id));
            }
            Command::Signal(id, sig, reply) => {
                let _ = reply.send(self.signal_cmd(&id, sig));
            }
            Command::Ready(id, report, reply) => {
                let _ = reply.send(self.ready(&id, report));
            }
            Command::CheckToken(id, token, reply) => {
                let _ = reply.send(self.check_token(&id, &token).map(|_| ()));
            }
            Command::Status(reply) => {
                let _ = reply.send(self.snapshot());
            }
            Command::LogPaths(id, reply) => {
                let r = self
                    .table
                    .get(&id)
                    .map(|e| logs::log_paths(&self.settings.spawn.work_dir, &e.desc))
                    .ok_or(SupError::Unknown(id));
                let _ = reply.send(r);
            }
            Command::Shutdown(reply) => self.begin_shutdown(reply),
            Command::Detach(reply) => {
                self.detach();
                let _ = reply.send(());
            }
        }
    }

    fn event(&mut self, ev: Event) {
        match ev {
            Event::Exited { id, epoch, how } => self.on_exit(&id, epoch, how),
            Event::ActivationTimeout { id, epoch } => self.on_activation_timeout(&id, epoch),
            Event::StopTimeout { id, epoch } => self.on_stop_timeout(&id, epoch),
            Event::RestartDue { id, epoch } => self.on_restart_due(&id, epoch),
        }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            seq: self.seq,
            status: NodeStatus {
                name: self.name.clone(),
                uptime_s: self.started.elapsed().as_secs(),
                assignment_serial: self.serial,
                servers: self.table.values().map(|e| e.rt.clone()).collect(),
            },
        }
    }

    fn begin_shutdown(&mut self, reply: oneshot::Sender<()>) {
        if self.shutdown.is_none() {
            tracing::info!(servers = self.table.len(), "stopping all servers");
        }
        self.shutdown.get_or_insert_with(Vec::new).push(reply);
        let ids: Vec<String> = self.table.keys().cloned().collect();
        for id in ids {
            if let Some(e) = self.table.get_mut(&id) {
                e.restart_gen = None;
                e.rt.next_restart_ms = None;
                if e.then == Then::Start {
                    e.then = Then::Nothing;
                }
            }
            self.begin_stop(&id);
        }
    }

    /// Lets the servers outlive the node: nothing is started or restarted from now on, and each
    /// running server keeps its pid file, so the next node on this data dir adopts it.
    fn detach(&mut self) {
        if self.shutdown.is_none() {
            let running = self.table.values().filter(|e| e.proc.is_some()).count();
            tracing::info!(
                servers = running,
                "leaving the servers running for the next node to adopt"
            );
        }
        self.shutdown.get_or_insert_with(Vec::new);
        for e in self.table.values_mut() {
            e.restart_gen = None;
        }
    }

    fn check_shutdown_done(&mut self) {
        if self.shutdown.is_some() && self.table.values().all(|e| e.proc.is_none()) {
            for r in self
                .shutdown
                .as_mut()
                .map(std::mem::take)
                .unwrap_or_default()
            {
                let _ = r.send(());
            }
        }
    }

    /// Sends an event to ourselves after `delay`.
    fn after(&self, delay: Duration, ev: Event) {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(Msg::Event(ev));
        });
    }
}
