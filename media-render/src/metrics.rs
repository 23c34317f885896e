//! The MediaRender's `GET /metrics`: failovers and their gaps are counted by the player where
//! it records them; the state, underruns and the audio buffered are read from the player's
//! status at scrape time.

use grid_proto::media::{PlayState, RenderStatus};
use grid_proto::metrics::prometheus_client::encoding::DescriptorEncoder;
use grid_proto::metrics::prometheus_client::metrics::counter::Counter;
use grid_proto::metrics::prometheus_client::metrics::histogram::Histogram;
use grid_proto::metrics::prometheus_client::registry::Registry;
use grid_proto::metrics::{self, Collector};

/// What failed over: a track's stream or a live channel.
#[derive(Debug, Clone, Copy)]
pub enum Playing {
    /// A track, resumed at its byte offset.
    Track,
    /// A live channel, rejoined at its live edge.
    Channel,
}

/// The counters and the gap histogram, updated by the player.
#[derive(Debug)]
pub struct RenderMetrics {
    registry: Registry,
    track_failovers: Counter,
    channel_failovers: Counter,
    gap_seconds: Histogram,
}

impl Default for RenderMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mediarender");
        let [track_failovers, channel_failovers] = metrics::register_counters(
            &mut registry,
            "failovers",
            "Failovers to another MediaServer, by what was playing (track, channel).",
            None,
            "playing",
            ["track", "channel"],
        );
        let gap_seconds = Histogram::new(metrics::latency_buckets());
        registry.register(
            "failover_gap_seconds",
            "How long a failover made the render wait for bytes: from the failed server's last byte (or from when the render next wanted bytes, if its buffer was full) to the next server's first.",
            gap_seconds.clone(),
        );
        Self {
            registry,
            track_failovers,
            channel_failovers,
            gap_seconds,
        }
    }
}

impl RenderMetrics {
    /// The scrape's text: the counters, then the gauges of `now`, the player's status.
    pub fn encode(&self, now: RenderStatus) -> Result<String, std::fmt::Error> {
        metrics::encode_with(&self.registry, Now(now))
    }

    /// One failover that kept the render waiting `gap_ms`.
    pub fn failover(&self, playing: Playing, gap_ms: f64) {
        match playing {
            Playing::Track => self.track_failovers.inc(),
            Playing::Channel => self.channel_failovers.inc(),
        };
        self.gap_seconds.observe(gap_ms / 1000.0);
    }
}

/// The player's status at the moment of the scrape.
#[derive(Debug)]
struct Now(RenderStatus);

impl Collector for Now {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        metrics::gauges(
            &mut e,
            "mediarender_state",
            "The render's state: 1 for the current one (retrying: playing with no MediaServer reachable).",
            None,
            PlayState::ALL
                .iter()
                .map(|st| ([("state", st.as_str())], u32::from(*st == s.state))),
        )?;
        metrics::counter(
            &mut e,
            "mediarender_underruns",
            "Times playback found its buffer empty and waited for bytes.",
            None,
            u64::from(s.underruns),
        )?;
        metrics::gauge(
            &mut e,
            "mediarender_buffered_seconds",
            "Audio received and not played yet (the read-ahead).",
            None,
            s.buffered_ms as f64 / 1000.0,
        )?;
        metrics::gauge(
            &mut e,
            "mediarender_position_seconds",
            "Position in the track (or time on the channel) now.",
            None,
            s.position_ms as f64 / 1000.0,
        )
    }
}
