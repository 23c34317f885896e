//! The counters of `GET /metrics` that are counted where their event happens.

use grid_proto::metrics;
use grid_proto::metrics::prometheus_client::metrics::counter::Counter;
use grid_proto::metrics::prometheus_client::registry::{Registry, Unit};

/// The counters, updated where their event happens.
#[derive(Debug)]
pub struct ServerMetrics {
    registry: Registry,
    /// `open_stream` calls that opened (or replaced) a stream.
    pub streams_opened: Counter,
    /// `get_audio_chunk` requests (`/chunk`), answered or not.
    pub chunk_requests: Counter,
    /// `/data` bodies started.
    pub data_requests: Counter,
    /// Bytes of `/chunk` replies.
    pub chunk_bytes: Counter,
    /// Bytes of `/data` bodies handed to the HTTP layer.
    pub data_bytes: Counter,
    /// Bytes of track audio (`/v1/tracks/{id}/audio`) handed to the HTTP layer.
    pub audio_bytes: Counter,
}

impl ServerMetrics {
    /// The registry the counters are in.
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl Default for ServerMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mediaserver");
        let streams_opened = Counter::default();
        registry.register(
            "streams_opened",
            "Streams opened by open_stream (a render's new stream replaces its old one).",
            streams_opened.clone(),
        );
        let [chunk_requests, data_requests] = metrics::register_counters(
            &mut registry,
            "stream_requests",
            "Stream reads by route: chunk (get_audio_chunk, one request per chunk) and data (one streamed body).",
            None,
            "route",
            ["chunk", "data"],
        );
        let [chunk_bytes, data_bytes, audio_bytes] = metrics::register_counters(
            &mut registry,
            "served",
            "Track bytes served by route: chunk, data (the stream routes) and audio (a track with Range); live channels count theirs in mediaserver_channel_sent_bytes.",
            Some(Unit::Bytes),
            "route",
            ["chunk", "data", "audio"],
        );
        Self {
            registry,
            streams_opened,
            chunk_requests,
            data_requests,
            chunk_bytes,
            data_bytes,
            audio_bytes,
        }
    }
}
