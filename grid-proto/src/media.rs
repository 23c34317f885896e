//! The media plane's wire types: the seed's MediaServer and MediaRender interfaces over HTTP/JSON
//! (`docs/media.md`).

use serde::{Deserialize, Serialize};

/// The seed's chunk size.
pub const CHUNK_SIZE: usize = 4096;

/// A track of a MediaServer's library (the seed's `TrackInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackInfo {
    /// First 16 hex digits of the SHA-256 of the file's content: the same on every replica.
    pub id: String,
    /// Title (from the tags).
    pub title: String,
    /// Artist.
    pub artist: String,
    /// Album.
    pub album: String,
    /// Duration, from the stream.
    pub duration_ms: u64,
    /// Bitrate in kbit/s (the average for VBR).
    pub bitrate_kbps: u32,
    /// Variable bitrate?
    pub vbr: bool,
    /// Size in bytes.
    pub size: u64,
    /// MIME type (`audio/mpeg`).
    pub content_type: String,
    /// File name relative to the library, for people; never used to open anything.
    pub file: String,
}

/// `POST /v1/streams`: the seed's `open_stream`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenStream {
    /// Track to stream.
    pub track_id: String,
    /// The render's identity; one stream per render.
    pub render_id: String,
    /// Byte offset to start at (a failover resumes here).
    #[serde(default)]
    pub offset: u64,
}

/// The answer to `open_stream`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamOpened {
    /// The render.
    pub render_id: String,
    /// The track.
    pub track: TrackInfo,
    /// Where the stream stands.
    pub offset: u64,
}

/// A MediaServer a render streams from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRef {
    /// Server id.
    pub id: String,
    /// Endpoint URL.
    pub endpoint: String,
}

/// One failover of a render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failover {
    /// The server that failed.
    pub from: Option<ServerRef>,
    /// The one that took over.
    pub to: ServerRef,
    /// Milliseconds between the last byte from `from` and the first from `to`.
    pub gap_ms: f64,
    /// Byte offset the stream resumed at.
    pub offset: u64,
}

/// A render's playback state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PlayState {
    /// Nothing loaded.
    #[default]
    Idle,
    /// Loaded, not playing.
    Loaded,
    /// Playing.
    Playing,
    /// Paused.
    Paused,
    /// Stopped.
    Stopped,
    /// No MediaServer reachable; retrying with the position held.
    Retrying,
}

/// `GET /v1/status` of a render.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RenderStatus {
    /// Render id.
    pub render: String,
    /// Playback state.
    pub state: PlayState,
    /// Current track.
    pub track: Option<TrackInfo>,
    /// Position of what the sink has played.
    pub position_ms: u64,
    /// Audio received but not played yet.
    pub buffered_ms: u64,
    /// Bytes of the current track received.
    pub bytes_received: u64,
    /// The MediaServer in use.
    pub server: Option<ServerRef>,
    /// Failovers so far.
    pub failovers: u32,
    /// The last failover.
    pub last_failover: Option<Failover>,
    /// The last error, while it matters.
    pub error: Option<String>,
    /// The live channel it plays, when on one (then `track` is none).
    #[serde(default)]
    pub channel: Option<crate::live::ChannelPlay>,
    /// Times playback ran dry before the track was complete (not counted at speed 0).
    #[serde(default)]
    pub underruns: u32,
}

/// `{track_id}` bodies of load and queue add.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackRef {
    /// Track id.
    pub track_id: String,
}

/// A server's application event, posted to its node and forwarded to the registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerEvent {
    /// The per-spawn token the node gave the server.
    pub token: String,
    /// The event (`{"event": "playing", ...}`).
    pub payload: serde_json::Value,
}
