//! The media plane's wire types: the MediaServer and MediaRender interfaces over HTTP/JSON
//! (`docs/media.md`).

use serde::{Deserialize, Serialize};

/// The replica group of the MediaServers, as the applications name it: renders, media-control
/// and gridadmin locate the MediaServers through it.
pub const SERVER_GROUP: &str = "MediaServerGroup";

/// The chunk size of `get_audio_chunk`: what a render asks for per request.
pub const CHUNK_SIZE: usize = 4096;

/// A track of a MediaServer's library (`TrackInfo`).
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

/// `POST /v1/streams`: `open_stream`.
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

/// What a render on a channel plays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPlay {
    /// Channel name.
    pub name: String,
    /// The current `StreamTitle`.
    pub title: String,
    /// The MediaServer it listens to.
    pub server: Option<ServerRef>,
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

impl PlayState {
    /// Every state (metrics list each, even the ones not in force).
    pub const ALL: [PlayState; 6] = [
        Self::Idle,
        Self::Loaded,
        Self::Playing,
        Self::Paused,
        Self::Stopped,
        Self::Retrying,
    ];

    /// The state as the wire, the status and the logs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Loaded => "loaded",
            Self::Playing => "playing",
            Self::Paused => "paused",
            Self::Stopped => "stopped",
            Self::Retrying => "retrying",
        }
    }
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
    pub channel: Option<ChannelPlay>,
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

/// An event of a render (the `payload` of its [`ServerEvent`]), tagged by `event`.
///
/// The shapes are the wire's: `playing`, `stopped` and `failover` read differently on a track
/// and on a live channel, so those variants hold an untagged choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RenderEvent {
    /// `load_track` opened the track's stream on `server`.
    Loaded {
        /// Track id.
        track_id: String,
        /// Its title.
        title: String,
        /// Its artist.
        artist: String,
        /// Id of the server holding the stream.
        server: String,
    },
    /// Playback started, resumed, or a channel was joined.
    Playing(Playing),
    /// The track was paused.
    Paused {
        /// Track id.
        track_id: String,
        /// Where.
        position_ms: u64,
    },
    /// Playback stopped, or the channel was left.
    Stopped(Stopped),
    /// The track played to its end.
    TrackExhausted {
        /// Track id.
        track_id: String,
        /// Bytes of the track.
        bytes: u64,
        /// Position at the end.
        position_ms: u64,
    },
    /// Another MediaServer took over.
    Failover {
        /// What played.
        #[serde(flatten)]
        on: Subject,
        /// From, to, gap and offset.
        #[serde(flatten)]
        failover: Failover,
    },
    /// The live channel's title changed.
    Title {
        /// Channel name.
        channel: String,
        /// The new `StreamTitle`.
        title: String,
    },
}

/// The `playing` event's shapes. Untagged: the fuller shapes come first, so a resume is not
/// read as a start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Playing {
    /// A paused track resumed (`resumed` is always true).
    Resumed {
        /// Track id.
        track_id: String,
        /// Always true: tells a resume from a start.
        resumed: bool,
        /// Where it resumed.
        position_ms: u64,
    },
    /// A live channel was joined on `server`.
    Channel {
        /// Channel name.
        channel: String,
        /// Id of the server that plays it.
        server: String,
    },
    /// A track started from its beginning.
    Track {
        /// Track id.
        track_id: String,
    },
}

/// The `stopped` event's shapes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stopped {
    /// A track stopped at `position_ms`.
    Track {
        /// Track id.
        track_id: String,
        /// Where.
        position_ms: u64,
    },
    /// A live channel was left.
    Channel {
        /// Channel name.
        channel: String,
    },
}

/// What a render played when an event happened: a track or a live channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Subject {
    /// A track.
    Track {
        /// Track id.
        track_id: String,
    },
    /// A live channel.
    Channel {
        /// Channel name.
        channel: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn play_states_read_as_the_wire_spells_them() {
        for state in PlayState::ALL {
            let wire = serde_json::to_value(state).unwrap();
            assert_eq!(wire.as_str(), Some(state.as_str()));
        }
    }

    fn server(id: &str) -> ServerRef {
        ServerRef {
            id: id.into(),
            endpoint: format!("http://127.0.0.1:1/{id}"),
        }
    }

    /// Each variant's JSON, byte for byte as the registry and gridadmin see it, and back.
    #[test]
    fn render_events_have_their_wire_json() {
        let failover = Failover {
            from: Some(server("a")),
            to: server("b"),
            gap_ms: 1.5,
            offset: 4096,
        };
        let cases = [
            (
                RenderEvent::Loaded {
                    track_id: "0123456789abcdef".into(),
                    title: "T".into(),
                    artist: "A".into(),
                    server: "a".into(),
                },
                r#"{"artist":"A","event":"loaded","server":"a","title":"T","track_id":"0123456789abcdef"}"#,
            ),
            (
                RenderEvent::Playing(Playing::Track {
                    track_id: "0123456789abcdef".into(),
                }),
                r#"{"event":"playing","track_id":"0123456789abcdef"}"#,
            ),
            (
                RenderEvent::Playing(Playing::Resumed {
                    track_id: "0123456789abcdef".into(),
                    resumed: true,
                    position_ms: 1200,
                }),
                r#"{"event":"playing","position_ms":1200,"resumed":true,"track_id":"0123456789abcdef"}"#,
            ),
            (
                RenderEvent::Playing(Playing::Channel {
                    channel: "lounge".into(),
                    server: "a".into(),
                }),
                r#"{"channel":"lounge","event":"playing","server":"a"}"#,
            ),
            (
                RenderEvent::Paused {
                    track_id: "0123456789abcdef".into(),
                    position_ms: 1200,
                },
                r#"{"event":"paused","position_ms":1200,"track_id":"0123456789abcdef"}"#,
            ),
            (
                RenderEvent::Stopped(Stopped::Track {
                    track_id: "0123456789abcdef".into(),
                    position_ms: 1200,
                }),
                r#"{"event":"stopped","position_ms":1200,"track_id":"0123456789abcdef"}"#,
            ),
            (
                RenderEvent::Stopped(Stopped::Channel {
                    channel: "lounge".into(),
                }),
                r#"{"channel":"lounge","event":"stopped"}"#,
            ),
            (
                RenderEvent::TrackExhausted {
                    track_id: "0123456789abcdef".into(),
                    bytes: 80000,
                    position_ms: 5000,
                },
                r#"{"bytes":80000,"event":"track_exhausted","position_ms":5000,"track_id":"0123456789abcdef"}"#,
            ),
            (
                RenderEvent::Failover {
                    on: Subject::Track {
                        track_id: "0123456789abcdef".into(),
                    },
                    failover: failover.clone(),
                },
                r#"{"event":"failover","from":{"endpoint":"http://127.0.0.1:1/a","id":"a"},"gap_ms":1.5,"offset":4096,"to":{"endpoint":"http://127.0.0.1:1/b","id":"b"},"track_id":"0123456789abcdef"}"#,
            ),
            (
                RenderEvent::Failover {
                    on: Subject::Channel {
                        channel: "lounge".into(),
                    },
                    failover: Failover {
                        from: None,
                        ..failover
                    },
                },
                r#"{"channel":"lounge","event":"failover","from":null,"gap_ms":1.5,"offset":4096,"to":{"endpoint":"http://127.0.0.1:1/b","id":"b"}}"#,
            ),
            (
                RenderEvent::Title {
                    channel: "lounge".into(),
                    title: "Artist - Song".into(),
                },
                r#"{"channel":"lounge","event":"title","title":"Artist - Song"}"#,
            ),
        ];
        for (event, json) in cases {
            // The payload travels as a JSON value (keys sorted), as `ServerEvent` carries it.
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(serde_json::to_string(&value).unwrap(), json, "{event:?}");
            let back: RenderEvent = serde_json::from_str(json).unwrap();
            assert_eq!(back, event, "{json}");
        }
    }
}
