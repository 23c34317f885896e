//! The registry's `GET /metrics`: locate requests and their latency, logins and events are
//! counted where they happen; nodes, servers by state, applications, sessions and event
//! subscribers are read from the live model at scrape time.

use std::time::Duration;

use grid_proto::api::ServerState;
use grid_proto::metrics::prometheus_client::encoding::DescriptorEncoder;
use grid_proto::metrics::prometheus_client::metrics::counter::Counter;
use grid_proto::metrics::prometheus_client::metrics::family::Family;
use grid_proto::metrics::prometheus_client::metrics::histogram::Histogram;
use grid_proto::metrics::prometheus_client::registry::Registry;
use grid_proto::metrics::{self, Collector};

use crate::model::Model;

type Result1 = [(&'static str, &'static str); 1];

/// How a locate ended, the `result` label.
#[derive(Debug, Clone, Copy)]
pub enum LocateResult {
    /// At least one endpoint.
    Found,
    /// A known id with no live endpoint.
    Empty,
    /// An unknown id (404).
    Unknown,
    /// An on-demand activation failed or timed out.
    Failed,
}

impl LocateResult {
    fn label(self) -> Result1 {
        [(
            "result",
            match self {
                Self::Found => "found",
                Self::Empty => "empty",
                Self::Unknown => "unknown",
                Self::Failed => "failed",
            },
        )]
    }
}

/// The counters and histograms, updated where their event happens.
#[derive(Debug)]
pub struct RegistryMetrics {
    registry: Registry,
    locates: Family<Result1, Counter>,
    locate_seconds: Histogram,
    logins: Family<Result1, Counter>,
    published: Counter,
    sent: Counter,
    lagged: Counter,
}

impl Default for RegistryMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gridregistry");
        let locates = Family::<Result1, Counter>::default();
        for r in [
            LocateResult::Found,
            LocateResult::Empty,
            LocateResult::Unknown,
            LocateResult::Failed,
        ] {
            let _ = locates.get_or_create(&r.label());
        }
        registry.register(
            "locate_requests",
            "Locate requests by result: found (endpoints), empty (none live), unknown (404), failed (an on-demand start failed).",
            locates.clone(),
        );
        let locate_seconds = Histogram::new(metrics::latency_buckets());
        registry.register(
            "locate_duration_seconds",
            "Time to answer a locate, on-demand activations included.",
            locate_seconds.clone(),
        );
        let logins = Family::<Result1, Counter>::default();
        let _ = logins.get_or_create(&[("result", "ok")]);
        let _ = logins.get_or_create(&[("result", "denied")]);
        registry.register(
            "logins",
            "Admin logins by result (ok, denied).",
            logins.clone(),
        );
        let published = Counter::default();
        registry.register(
            "events_published",
            "Events published to the event stream.",
            published.clone(),
        );
        let sent = Counter::default();
        registry.register(
            "events_sent",
            "Events served to /v1/events subscribers (each snapshot counts once).",
            sent.clone(),
        );
        let lagged = Counter::default();
        registry.register(
            "events_lagged",
            "Events a subscriber too slow to keep up missed.",
            lagged.clone(),
        );
        Self {
            registry,
            locates,
            locate_seconds,
            logins,
            published,
            sent,
            lagged,
        }
    }
}

impl RegistryMetrics {
    /// One locate answered after `took`.
    pub fn locate(&self, result: LocateResult, took: Duration) {
        self.locates.get_or_create(&result.label()).inc();
        self.locate_seconds.observe(took.as_secs_f64());
    }

    /// One login, accepted or not.
    pub fn login(&self, ok: bool) {
        let result = if ok { "ok" } else { "denied" };
        self.logins.get_or_create(&[("result", result)]).inc();
    }

    /// The counter of published events, for the event stream to count into.
    pub fn published_counter(&self) -> Counter {
        self.published.clone()
    }

    /// One event written to a subscriber.
    pub fn sent(&self) {
        self.sent.inc();
    }

    /// `n` events a subscriber missed.
    pub fn lagged(&self, n: u64) {
        self.lagged.inc_by(n);
    }
}

/// What the live model says at the moment of the scrape.
#[derive(Debug)]
struct Now {
    nodes_up: usize,
    nodes_down: usize,
    servers: [usize; ServerState::ALL.len()],
    applications: usize,
    adapters_live: usize,
    sessions: usize,
    subscribers: usize,
    uptime: f64,
}

impl Now {
    fn read(model: &Model, sessions: usize, uptime: Duration) -> Self {
        // Taken before the live view's lock, never under it.
        let subscribers = model.subscribers();
        let live = model.view();
        let mut servers = [0; ServerState::ALL.len()];
        for s in live.server_states() {
            if let Some(i) = ServerState::ALL.iter().position(|x| *x == s) {
                servers[i] += 1;
            }
        }
        let nodes_up = live.nodes_up();
        Self {
            nodes_up,
            nodes_down: live.node_count() - nodes_up,
            servers,
            applications: live.application_count(),
            adapters_live: live.adapters_live(),
            sessions,
            subscribers,
            uptime: uptime.as_secs_f64(),
        }
    }
}

impl Collector for Now {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        metrics::gauges(
            &mut e,
            "gridregistry_nodes",
            "Registered nodes by state (up: heartbeats arriving; down: silent past the timeout).",
            None,
            [
                ([("state", "up")], self.nodes_up),
                ([("state", "down")], self.nodes_down),
            ],
        )?;
        metrics::gauges(
            &mut e,
            "gridregistry_servers",
            "Deployed servers by the state their node last reported (inactive when none has).",
            None,
            ServerState::ALL
                .iter()
                .zip(self.servers)
                .map(|(s, n)| ([("state", s.as_str())], n)),
        )?;
        metrics::gauge(
            &mut e,
            "gridregistry_applications",
            "Deployed applications.",
            None,
            self.applications,
        )?;
        metrics::gauge(
            &mut e,
            "gridregistry_adapters_live",
            "Adapters with a live endpoint (their server active on an up node).",
            None,
            self.adapters_live,
        )?;
        metrics::gauge(
            &mut e,
            "gridregistry_sessions",
            "Admin sessions open (logged in, not expired).",
            None,
            self.sessions,
        )?;
        metrics::gauge(
            &mut e,
            "gridregistry_event_subscribers",
            "Clients connected to /v1/events.",
            None,
            self.subscribers,
        )?;
        metrics::gauge(
            &mut e,
            "gridregistry_uptime_seconds",
            "Time since the registry started.",
            None,
            self.uptime,
        )
    }
}

impl RegistryMetrics {
    /// The counters and the model's gauges as OpenMetrics text.
    pub fn encode(
        &self,
        model: &Model,
        sessions: usize,
        uptime: Duration,
    ) -> Result<String, std::fmt::Error> {
        metrics::encode_with(&self.registry, Now::read(model, sessions, uptime))
    }
}
