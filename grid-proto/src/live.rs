//! Live channels' wire types: the stats a MediaServer reports for each channel, and what a render
//! on a channel shows (`docs/live.md`).

use serde::{Deserialize, Serialize};

/// Where a channel's audio comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelKind {
    /// A playlist from the library, played in real time.
    Playlist,
    /// A relay of an upstream ICY or HTTP stream.
    Relay,
}

/// The state of a channel's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceState {
    /// Audio flows.
    Playing,
    /// A relay connecting for the first time.
    Connecting,
    /// A relay whose upstream dropped: listeners get silence while it reconnects.
    Reconnecting,
    /// Nothing to play (an empty playlist): listeners get silence.
    Silent,
}

/// A channel's source, in numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStats {
    /// What it is doing.
    pub state: SourceState,
    /// A relay's upstream URL.
    pub upstream: Option<String>,
    /// A playlist's current track.
    pub track_id: Option<String>,
    /// A relay's reconnections so far.
    pub reconnects: u64,
    /// Segments received (relay) or produced (playlist).
    pub segments: u64,
    /// Gaps in a relay's segment numbering.
    pub gaps: u64,
    /// Duplicates in a relay's segment numbering.
    pub duplicates: u64,
}

/// `GET /v1/channels/{name}` on a MediaServer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// Channel name (`/live/{name}`).
    pub name: String,
    /// Playlist or relay.
    pub kind: ChannelKind,
    /// `icy-description`.
    pub description: String,
    /// `icy-genre`.
    pub genre: String,
    /// `icy-br`.
    pub bitrate_kbps: u32,
    /// `icy-metaint`.
    pub metaint: u32,
    /// Listeners now.
    pub listeners: u64,
    /// The most listeners at once.
    pub listeners_peak: u64,
    /// Listeners that joined since start.
    pub joins: u64,
    /// Bytes written to listeners.
    pub bytes_out: u64,
    /// Listeners cut off for lagging.
    pub cut_offs: u64,
    /// The current `StreamTitle`.
    pub title: String,
    /// The source.
    pub source: SourceStats,
    /// Since the channel started.
    pub uptime_ms: u64,
    /// Clients of the control port receiving the channel as UDP datagrams.
    #[serde(default)]
    pub udp_clients: u64,
    /// Datagrams sent to them.
    #[serde(default)]
    pub udp_datagrams: u64,
    /// Payload bytes sent to them.
    #[serde(default)]
    pub udp_bytes: u64,
    /// Its place in a distribution tree of relays.
    #[serde(default)]
    pub tree: TreeStats,
}

/// A relay sends this request header to its upstream, naming itself by the URL of its own copy
/// of the channel: the upstream takes it as a child (or redirects it to one) and checks that it
/// is not one of its own ancestors.
pub const RELAY_HEADER: &str = "x-casty-relay";
/// An upstream's reply to a relay child: the chain of URLs from the tree's root down to the
/// upstream itself, separated by spaces.
pub const PATH_HEADER: &str = "x-casty-path";

/// A channel's place in a distribution tree: its chain of upstreams and its
/// relay children.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TreeStats {
    /// This copy's URL (how relays name it).
    pub url: String,
    /// The upstreams from the root down to the parent (empty for a root, or a relay of a
    /// server that is not part of a tree).
    pub path: Vec<String>,
    /// The relay children, by URL.
    pub children: Vec<String>,
    /// At most this many children; further relays are redirected to one of them.
    pub max_children: u32,
    /// Relays sent on to a child.
    pub redirects: u64,
    /// Relays refused because they are this copy's upstream (joining would close a loop).
    pub loops_refused: u64,
    /// Relays below this copy, as its children last said (a redirect goes to the child with
    /// the fewest, so a tree whose subtrees move stays shallow).
    #[serde(default)]
    pub descendants: u64,
}

/// `POST /v1/channel` on a render: join a channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelRef {
    /// Channel name.
    pub name: String,
}

// A render's channel is part of its status (`media::RenderStatus`), so the type lives there;
// this keeps its old path and leaves `media` free of `live`.
pub use crate::media::ChannelPlay;
