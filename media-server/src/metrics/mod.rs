//! The MediaServer's `GET /metrics`: stream opens, chunk and `/data` requests and the bytes
//! each route serves are counted where they happen (an atomic add per chunk or piece, no
//! lock); open streams, the library and every live channel's numbers (listeners, joins,
//! cut-offs, bytes sent, relay reconnects, tree children, UDP clients) are read from their
//! owners at scrape time.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use grid_proto::metrics::prometheus_client::encoding::DescriptorEncoder;
use grid_proto::metrics::{self, Collector};

pub mod counters;

pub use counters::ServerMetrics;

use crate::error::ApiError;
use crate::live::channel::ChannelCounters;
use crate::state::SharedState;

/// What the owners say at the moment of the scrape.
#[derive(Debug)]
struct Now {
    streams: usize,
    tracks: usize,
    channels: Vec<(String, ChannelCounters)>,
    control_clients: Option<usize>,
}

impl Now {
    fn read(state: &SharedState) -> Self {
        Self {
            streams: state.streams.len(),
            tracks: state.snapshot().len(),
            channels: state
                .live
                .channels()
                .iter()
                .map(|c| (c.name().to_owned(), c.counters()))
                .collect(),
            control_clients: state.control.as_ref().map(|c| c.clients()),
        }
    }

    fn per_channel<'a, T: 'a>(
        &'a self,
        f: impl Fn(&ChannelCounters) -> T + 'a,
    ) -> impl Iterator<Item = ([(&'static str, &'a str); 1], T)> + 'a {
        self.channels
            .iter()
            .map(move |(name, c)| ([("channel", name.as_str())], f(c)))
    }
}

impl Collector for Now {
    fn encode(&self, mut e: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        metrics::gauge(
            &mut e,
            "mediaserver_streams_open",
            "Streams open (one per render).",
            None,
            self.streams,
        )?;
        metrics::gauge(
            &mut e,
            "mediaserver_tracks",
            "Tracks in the library.",
            None,
            self.tracks,
        )?;
        metrics::gauges(
            &mut e,
            "mediaserver_channel_listeners",
            "Listeners of a live channel now (relay children included).",
            None,
            self.per_channel(|c| c.listeners),
        )?;
        metrics::gauges(
            &mut e,
            "mediaserver_channel_relay_children",
            "Relays of the distribution tree fed by this copy of the channel.",
            None,
            self.per_channel(|c| c.relay_children),
        )?;
        metrics::gauges(
            &mut e,
            "mediaserver_channel_udp_clients",
            "Control-port clients receiving the channel as UDP datagrams.",
            None,
            self.per_channel(|c| c.udp_clients),
        )?;
        metrics::counters(
            &mut e,
            "mediaserver_channel_joins",
            "Listeners that joined a live channel.",
            None,
            self.per_channel(|c| c.joins),
        )?;
        metrics::counters(
            &mut e,
            "mediaserver_channel_cut_offs",
            "Listeners cut off for falling more than lag_ms behind.",
            None,
            self.per_channel(|c| c.cut_offs),
        )?;
        metrics::counters(
            &mut e,
            "mediaserver_channel_sent_bytes",
            "Bytes written to a live channel's listeners (ICY metadata included).",
            None,
            self.per_channel(|c| c.bytes_out),
        )?;
        metrics::counters(
            &mut e,
            "mediaserver_channel_udp_sent_bytes",
            "Bytes sent to a live channel's UDP clients.",
            None,
            self.per_channel(|c| c.udp_bytes),
        )?;
        metrics::counters(
            &mut e,
            "mediaserver_channel_redirects",
            "Relays a full channel redirected to one of its children.",
            None,
            self.per_channel(|c| c.redirects),
        )?;
        metrics::counters(
            &mut e,
            "mediaserver_channel_source_reconnects",
            "Reconnects of a relay's upstream (or a UDP-fed channel's datagrams coming back); 0 for a playlist.",
            None,
            self.per_channel(|c| c.reconnects),
        )?;
        if let Some(n) = self.control_clients {
            metrics::gauge(
                &mut e,
                "mediaserver_control_clients",
                "Connections to the control port.",
                None,
                n,
            )?;
        }
        Ok(())
    }
}

/// `GET /metrics`: open, like every route of a MediaServer.
pub async fn scrape(State(state): State<SharedState>) -> Result<Response, ApiError> {
    let now = Now::read(&state);
    let text = metrics::encode_with(state.metrics.registry(), now)
        .map_err(|e| ApiError::Internal(format!("encoding the metrics: {e}")))?;
    Ok(([(CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response())
}
