//! Pure renderings for people: tables, durations, the status block. Tests check them as strings.

use grid_proto::live::{ChannelKind, ChannelStats};
use grid_proto::media::{RenderStatus, TrackInfo};

pub use grid_proto::console::{table, table_of};

use crate::locate::RenderRef;

/// `m:ss` (`61500` → `1:01`).
pub fn minutes(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}", s / 60, s % 60)
}

/// `m:ss.s` (`61550` → `1:01.5`), for positions.
pub fn minutes_tenths(ms: u64) -> String {
    let tenths = ms / 100;
    let s = tenths / 10;
    format!("{}:{:02}.{}", s / 60, s % 60, tenths % 10)
}

/// `Artist - Title (id)`.
pub fn track_label(t: &TrackInfo) -> String {
    format!("{} - {} ({})", t.artist, t.title, t.id)
}

/// The library (or a queue) as a table.
pub fn tracks_table(tracks: &[TrackInfo]) -> String {
    table_of(
        &["ID", "TITLE", "ARTIST", "ALBUM", "DURATION", "KBPS", "VBR"],
        tracks,
        |t| {
            vec![
                t.id.clone(),
                t.title.clone(),
                t.artist.clone(),
                t.album.clone(),
                minutes(t.duration_ms),
                t.bitrate_kbps.to_string(),
                if t.vbr { "yes" } else { "no" }.to_owned(),
            ]
        },
    )
}

/// A render's status as `key: value` lines.
pub fn status_block(s: &RenderStatus) -> String {
    let mut lines: Vec<(&str, String)> = vec![
        ("render", s.render.clone()),
        ("state", s.state.as_str().to_owned()),
    ];
    if let Some(c) = &s.channel {
        lines.push(("channel", c.name.clone()));
        lines.push((
            "title",
            if c.title.is_empty() {
                "-".into()
            } else {
                c.title.clone()
            },
        ));
        lines.push(("received", format!("{} bytes", s.bytes_received)));
    }
    match &s.track {
        None if s.channel.is_some() => {}
        Some(t) => {
            lines.push(("track", track_label(t)));
            lines.push((
                "position",
                format!(
                    "{} / {}",
                    minutes_tenths(s.position_ms),
                    minutes(t.duration_ms)
                ),
            ));
        }
        None => lines.push(("track", "-".into())),
    }
    if s.channel.is_none() {
        lines.push(("buffered", format!("{} ms", s.buffered_ms)));
        lines.push(("received", format!("{} bytes", s.bytes_received)));
    }
    lines.push((
        "server",
        s.server
            .as_ref()
            .map_or("-".into(), |r| format!("{} {}", r.id, r.endpoint)),
    ));
    lines.push(("underruns", s.underruns.to_string()));
    lines.push(("failovers", s.failovers.to_string()));
    if let Some(f) = &s.last_failover {
        let from = f.from.as_ref().map_or("-", |r| r.id.as_str());
        lines.push((
            "last failover",
            format!(
                "{from} -> {}, gap {:.1} ms, at byte {}",
                f.to.id, f.gap_ms, f.offset
            ),
        ));
    }
    if let Some(e) = &s.error {
        lines.push(("error", e.clone()));
    }
    lines
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}\n"))
        .collect()
}

/// One line after an action: `MediaRender-1: playing Artist - Title (id) at 0:12.3`.
pub fn status_line(s: &RenderStatus) -> String {
    let mut line = format!("{}: {}", s.render, s.state.as_str());
    if let Some(t) = &s.track {
        line.push_str(&format!(
            " {} at {}",
            track_label(t),
            minutes_tenths(s.position_ms)
        ));
    }
    if let Some(c) = &s.channel {
        line.push_str(&format!(" channel {}", c.name));
        if !c.title.is_empty() {
            line.push_str(&format!(": {}", c.title));
        }
        if let Some(server) = &c.server {
            line.push_str(&format!(" (from {})", server.id));
        }
    }
    if let Some(e) = &s.error {
        line.push_str(&format!(" (error: {e})"));
    }
    line
}

/// `playlist` or `relay`.
pub fn kind_name(k: ChannelKind) -> &'static str {
    match k {
        ChannelKind::Playlist => "playlist",
        ChannelKind::Relay => "relay",
    }
}

/// The live channels as a table.
pub fn channels_table(channels: &[ChannelStats]) -> String {
    table_of(&["NAME", "KIND", "LISTENERS", "TITLE"], channels, |c| {
        vec![
            c.name.clone(),
            kind_name(c.kind).to_owned(),
            c.listeners.to_string(),
            if c.title.is_empty() {
                "-".into()
            } else {
                c.title.clone()
            },
        ]
    })
}

/// A render and what it is doing, for `renders`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderRow {
    /// Where it is.
    pub render: RenderRef,
    /// `playing Artist - Title`, `idle`, `not running`, `unreachable: ...`.
    pub state: String,
}

/// The renders as a table.
pub fn renders_table(rows: &[RenderRow]) -> String {
    table_of(&["RENDER", "NODE", "ENDPOINT", "STATE"], rows, |r| {
        vec![
            r.render.id.clone(),
            r.render.node.clone(),
            r.render.endpoint.clone().unwrap_or_else(|| "-".into()),
            r.state.clone(),
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracks::tests::track;

    #[test]
    fn durations() {
        assert_eq!(minutes(0), "0:00");
        assert_eq!(minutes(61_999), "1:01");
        assert_eq!(minutes(240_000), "4:00");
        assert_eq!(minutes_tenths(61_550), "1:01.5");
        assert_eq!(minutes_tenths(600_049), "10:00.0");
    }

    #[test]
    fn library_table_is_aligned() {
        let mut b = track("00000000000000a2", "Glass Avenue", "Vega Lines");
        b.vbr = true;
        b.duration_ms = 180_000;
        let t = tracks_table(&[track("00000000000000a1", "Night", "X"), b]);
        assert_eq!(
            t,
            "ID                TITLE         ARTIST      ALBUM  DURATION  KBPS  VBR\n\
             00000000000000a1  Night         X           Album  1:01      192   no\n\
             00000000000000a2  Glass Avenue  Vega Lines  Album  3:00      192   yes\n"
        );
    }

    #[test]
    fn status_shows_everything() {
        // From JSON, so a field added to the wire type (with a default) does not break the test.
        let s: RenderStatus = serde_json::from_value(serde_json::json!({
            "render": "MediaRender-1",
            "state": "playing",
            "track": track("00000000000000a1", "Night Transit", "Vega Lines"),
            "position_ms": 12_345,
            "buffered_ms": 2_900,
            "bytes_received": 400_000,
            "server": {"id": "MediaServer-2", "endpoint": "http://127.0.0.1:5002"},
            "failovers": 1,
            "last_failover": {
                "from": {"id": "MediaServer-1", "endpoint": "http://127.0.0.1:5001"},
                "to": {"id": "MediaServer-2", "endpoint": "http://127.0.0.1:5002"},
                "gap_ms": 41.27,
                "offset": 200_000
            },
            "error": null
        }))
        .unwrap();
        assert_eq!(
            status_block(&s),
            "render: MediaRender-1\n\
             state: playing\n\
             track: Vega Lines - Night Transit (00000000000000a1)\n\
             position: 0:12.3 / 1:01\n\
             buffered: 2900 ms\n\
             received: 400000 bytes\n\
             server: MediaServer-2 http://127.0.0.1:5002\n\
             underruns: 0\n\
             failovers: 1\n\
             last failover: MediaServer-1 -> MediaServer-2, gap 41.3 ms, at byte 200000\n"
        );
        assert_eq!(
            status_line(&s),
            "MediaRender-1: playing Vega Lines - Night Transit (00000000000000a1) at 0:12.3"
        );
        let idle = RenderStatus {
            render: "R".into(),
            error: Some("no MediaServer".into()),
            ..RenderStatus::default()
        };
        let block = status_block(&idle);
        assert!(block.contains("state: idle\ntrack: -\n"), "{block}");
        assert!(block.ends_with("error: no MediaServer\n"), "{block}");
    }

    #[test]
    fn status_on_a_channel_shows_the_channel_and_its_title() {
        let s: RenderStatus = serde_json::from_value(serde_json::json!({
            "render": "MediaRender-1",
            "state": "playing",
            "track": null,
            "position_ms": 0,
            "buffered_ms": 0,
            "bytes_received": 48_000,
            "server": {"id": "MediaServer-1", "endpoint": "http://127.0.0.1:5001"},
            "failovers": 0,
            "last_failover": null,
            "error": null,
            "channel": {
                "name": "lounge",
                "title": "Vega Lines - Night Transit",
                "server": {"id": "MediaServer-1", "endpoint": "http://127.0.0.1:5001"}
            }
        }))
        .unwrap();
        assert_eq!(
            status_block(&s),
            "render: MediaRender-1\n\
             state: playing\n\
             channel: lounge\n\
             title: Vega Lines - Night Transit\n\
             received: 48000 bytes\n\
             server: MediaServer-1 http://127.0.0.1:5001\n\
             underruns: 0\n\
             failovers: 0\n"
        );
        assert_eq!(
            status_line(&s),
            "MediaRender-1: playing channel lounge: Vega Lines - Night Transit (from MediaServer-1)"
        );
    }

    #[test]
    fn channels_listing() {
        let c: ChannelStats = serde_json::from_value(serde_json::json!({
            "name": "lounge", "kind": "playlist", "description": "Ambient", "genre": "Ambient",
            "bitrate_kbps": 128, "metaint": 16000, "listeners": 3, "listeners_peak": 5,
            "joins": 9, "bytes_out": 123456, "cut_offs": 1, "title": "A - B",
            "source": {"state": "playing", "upstream": null, "track_id": "00000000000000a1",
                       "reconnects": 0, "segments": 10, "gaps": 0, "duplicates": 0},
            "uptime_ms": 60000
        }))
        .unwrap();
        let mut relay = c.clone();
        relay.name = "relay-lounge".into();
        relay.kind = ChannelKind::Relay;
        relay.title = String::new();
        relay.listeners = 0;
        assert_eq!(
            channels_table(&[c, relay]),
            "NAME          KIND      LISTENERS  TITLE\n\
             lounge        playlist  3          A - B\n\
             relay-lounge  relay     0          -\n"
        );
    }

    #[test]
    fn renders_listing() {
        let rows = [RenderRow {
            render: RenderRef {
                id: "MediaRender-1".into(),
                node: "node1".into(),
                endpoint: None,
            },
            state: "not running".into(),
        }];
        assert_eq!(
            renders_table(&rows),
            "RENDER         NODE   ENDPOINT  STATE\nMediaRender-1  node1  -         not running\n"
        );
    }
}
