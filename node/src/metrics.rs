//! The node's `GET /metrics`: restarts (by server and reason) and child start latency are
//! counted by the supervisor where they happen; servers by state and the backoff in force are
//! read from the supervisor's table at scrape time.

use std::time::Duration;

use grid_proto::api::{ServerRuntime, ServerState};
use grid_proto::metrics::prometheus_client::encoding::DescriptorEncoder;
use grid_proto::metrics::prometheus_client::metrics::counter::Counter;
use grid_proto::metrics::prometheus_client::metrics::family::Family;
use grid_proto::metrics::prometheus_client::metrics::histogram::Histogram;
use grid_proto::metrics::prometheus_client::registry::Registry;
use grid_proto::metrics::{self, Collector};

/// Why a server was restarted: how its previous process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// It exited with a status.
    Exit,
    /// A signal killed it.
    Signal,
    /// It did not report ready in time (and was killed for it).
    ActivationTimeout,
    /// It could not be spawned.
    SpawnError,
    /// It ended in a way the node could not read (an adopted process).
    Unknown,
}

impl Reason {
    /// The reason of an unasked exit described as `how` (see `child::describe_exit`).
    pub fn of_exit(how: Option<&str>, timed_out: bool) -> Self {
        match how {
            _ if timed_out => Self::ActivationTimeout,
            Some(h) if h.starts_with("exit status") => Self::Exit,
            Some(h) if h.starts_with("killed by") => Self::Signal,
            _ => Self::Unknown,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Exit => "exit",
            Self::Signal => "signal",
            Self::ActivationTimeout => "activation_timeout",
            Self::SpawnError => "spawn_error",
            Self::Unknown => "unknown",
        }
    }
}

type ServerReason = [(&'static str, String); 2];
type ServerLabel = [(&'static str, String); 1];

fn start_histogram() -> Histogram {
    Histogram::new(metrics::latency_buckets())
}

/// The counters and histograms, updated by the supervisor.
#[derive(Debug)]
pub struct NodeMetrics {
    registry: Registry,
    restarts: Family<ServerReason, Counter>,
    start_seconds: Family<ServerLabel, Histogram, fn() -> Histogram>,
}

impl Default for NodeMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gridnode");
        let restarts = Family::<ServerReason, Counter>::default();
        registry.register(
            "server_restarts",
            "Restarts the node made of a server that ended unasked, by server and by how it ended (exit, signal, activation_timeout, spawn_error, unknown).",
            restarts.clone(),
        );
        let start_seconds: Family<ServerLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(start_histogram);
        registry.register(
            "server_start_duration_seconds",
            "Time from spawning a server with adapters to its ready report, by server.",
            start_seconds.clone(),
        );
        Self {
            registry,
            restarts,
            start_seconds,
        }
    }
}

impl NodeMetrics {
    /// `server` restarted after it ended for `reason`.
    pub fn restarted(&self, server: &str, reason: Reason) {
        self.restarts
            .get_or_create(&[
                ("server", server.to_owned()),
                ("reason", reason.as_str().to_owned()),
            ])
            .inc();
    }

    /// `server` reported ready `took` after it was spawned.
    pub fn started(&self, server: &str, took: Duration) {
        self.start_seconds
            .get_or_create(&[("server", server.to_owned())])
            .observe(took.as_secs_f64());
    }

    /// The scrape: what was counted, and the supervisor's `servers` as they are now.
    pub fn encode(&self, servers: Vec<ServerRuntime>) -> Result<String, std::fmt::Error> {
        let now = Now {
            servers,
            now_ms: grid_proto::now_ms(),
        };
        metrics::encode_with(&self.registry, now)
    }
}

/// The supervisor's table at the moment of the scrape.
#[derive(Debug)]
struct Now {
    servers: Vec<ServerRuntime>,
    now_ms: u64,
}

impl Collector for Now {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        metrics::gauges(
            &mut e,
            "gridnode_servers",
            "Servers of this node by state.",
            None,
            ServerState::ALL.iter().map(|s| {
                let n = self.servers.iter().filter(|r| r.state == *s).count();
                ([("state", s.as_str())], n)
            }),
        )?;
        let waits = |r: &ServerRuntime| {
            r.next_restart_ms
                .map(|at| at.saturating_sub(self.now_ms) as f64 / 1000.0)
        };
        metrics::gauge(
            &mut e,
            "gridnode_servers_in_backoff",
            "Servers waiting out a restart backoff (they crashed again soon after a restart).",
            None,
            self.servers.iter().filter(|r| waits(r).is_some()).count(),
        )?;
        metrics::gauges(
            &mut e,
            "gridnode_server_backoff_seconds",
            "Time left before the next restart of a server in backoff, 0 for a server not waiting.",
            None,
            self.servers
                .iter()
                .map(|r| ([("server", r.id.as_str())], waits(r).unwrap_or(0.0))),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_follow_how_the_process_ended() {
        for (how, timed_out, reason) in [
            (Some("exit status 3"), false, Reason::Exit),
            (Some("killed by SIGKILL"), false, Reason::Signal),
            (Some("killed by signal 64"), false, Reason::Signal),
            (Some("killed by SIGKILL"), true, Reason::ActivationTimeout),
            (
                Some("exited (adopted process, status unknown)"),
                false,
                Reason::Unknown,
            ),
            (None, false, Reason::Unknown),
        ] {
            assert_eq!(Reason::of_exit(how, timed_out), reason, "{how:?}");
        }
    }
}
