//! The render's failovers, of a track or a channel alike: counted for the status and
//! `GET /metrics`, the last one kept, each logged and told as an event.

use std::sync::Arc;

use grid_proto::media::{Failover, RenderEvent, Subject};
use tracing::info;

use crate::metrics::{Playing, RenderMetrics};

/// How many failovers, and the last.
#[derive(Debug)]
pub(super) struct Failovers {
    count: u32,
    last: Option<Failover>,
    metrics: Arc<RenderMetrics>,
}

impl Failovers {
    pub(super) fn new(metrics: Arc<RenderMetrics>) -> Self {
        Self {
            count: 0,
            last: None,
            metrics,
        }
    }

    /// Failovers so far.
    pub(super) fn count(&self) -> u32 {
        self.count
    }

    /// The last one.
    pub(super) fn last(&self) -> Option<&Failover> {
        self.last.as_ref()
    }

    /// Records `f` of what played (`on`); the event that tells it.
    pub(super) fn record(&mut self, on: Subject, f: Failover) -> RenderEvent {
        self.count += 1;
        let from = f.from.as_ref().map_or("-", |s| s.id.as_str());
        match &on {
            Subject::Track { .. } => {
                self.metrics.failover(Playing::Track, f.gap_ms);
                info!(
                    "failover {from} -> {} {} at offset {}: gap {:.2} ms ({} so far)",
                    f.to.id, f.to.endpoint, f.offset, f.gap_ms, self.count
                );
            }
            Subject::Channel { channel } => {
                self.metrics.failover(Playing::Channel, f.gap_ms);
                info!(
                    "channel {channel}: failover {from} -> {} {}: gap {:.2} ms ({} so far)",
                    f.to.id, f.to.endpoint, f.gap_ms, self.count
                );
            }
        }
        self.last = Some(f.clone());
        RenderEvent::Failover { on, failover: f }
    }
}
