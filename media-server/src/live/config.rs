//! `--channels FILE`: the channels a server broadcasts (`docs/live.md`), read and checked at start.

use std::collections::HashSet;
use std::path::Path;

use grid_proto::ids::ChannelName;
use serde::Deserialize;

/// Default bytes of audio between metadata blocks.
pub const DEFAULT_METAINT: usize = 16_000;
/// Default audio sent at once to a new listener.
pub const DEFAULT_BURST_MS: u64 = 2_000;
/// Default lag past which a listener is cut off.
pub const DEFAULT_LAG_MS: u64 = 10_000;
/// Default relay children of a channel (a binary tree).
pub const DEFAULT_MAX_CHILDREN: u64 = 2;

/// In what order a playlist plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// As listed (the library's order when the playlist is absent).
    InOrder,
    /// A new random order each loop.
    Shuffle,
}

/// Where a channel's audio comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Tracks of the library: ids or exact titles; `None` is the whole library.
    Playlist {
        /// The entries as written.
        entries: Option<Vec<String>>,
        /// Their order.
        order: Order,
    },
    /// An upstream ICY or plain HTTP stream.
    Relay {
        /// As written.
        url: String,
        /// Where it is.
        upstream: Upstream,
    },
    /// MP3 datagrams from an external sender: `udp://HOST:PORT` to bind; port 0
    /// takes any free port (the bound one is reported in the stats).
    Udp {
        /// As written.
        url: String,
        /// `host:port` to bind.
        bind: String,
    },
}

/// Where a relay's upstream is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstream {
    /// `http://HOST:PORT/PATH`.
    Http {
        /// `host:port` to connect to.
        authority: String,
        /// The request target (path and query).
        target: String,
    },
    /// `grid:ID/PATH`: a server of the grid, found through the registry's locator at every
    /// connection (an adapter id, or a replica group: its first live member other than this
    /// server), so the relay follows the server when its node restarts it on a new port.
    Grid {
        /// The adapter or replica-group id to locate.
        id: String,
        /// The request target on the located server.
        target: String,
    },
}

impl Upstream {
    /// Parses a `source`: `http://HOST[:PORT]/PATH` or `grid:ID/PATH`.
    pub fn parse(url: &str) -> Option<Self> {
        if let Some(rest) = url.strip_prefix("grid:") {
            let (id, target) = rest.split_once('/')?;
            let valid = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
            if id.is_empty() || !id.bytes().all(valid) || target.contains(' ') {
                return None;
            }
            return Some(Upstream::Grid {
                id: id.to_owned(),
                target: format!("/{target}"),
            });
        }
        let (authority, target) = split_url(url)?;
        Some(Upstream::Http { authority, target })
    }
}

/// One `[[channel]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelConfig {
    /// `[a-z0-9-]{1,32}`.
    pub name: String,
    /// `icy-description`.
    pub description: String,
    /// `icy-genre`.
    pub genre: String,
    /// The source.
    pub source: Source,
    /// Bytes of audio between metadata blocks.
    pub metaint: usize,
    /// Audio sent at once to a new listener.
    pub burst_ms: u64,
    /// A listener further behind is cut off.
    pub lag_ms: u64,
    /// Relays taken as children; more are redirected to one of them (a distribution tree).
    pub max_children: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    channel: Vec<RawChannel>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: String,
    description: Option<String>,
    genre: Option<String>,
    playlist: Option<Vec<String>>,
    order: Option<String>,
    source: Option<String>,
    metaint: Option<i64>,
    burst_ms: Option<i64>,
    lag_ms: Option<i64>,
    max_children: Option<i64>,
}

/// Reads and checks a channels file; the error names the file, the channel and the field.
pub fn load(path: &Path) -> anyhow::Result<Vec<ChannelConfig>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Parses and checks the text of a channels file.
pub fn parse(text: &str) -> Result<Vec<ChannelConfig>, String> {
    let raw: RawFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(raw.channel.len());
    for (i, c) in raw.channel.into_iter().enumerate() {
        let who = if c.name.is_empty() {
            format!("channel #{}", i + 1)
        } else {
            format!("channel '{}'", c.name)
        };
        let bad = |field: &str, why: &str| format!("{who}: {field}: {why}");
        if c.name.parse::<ChannelName>().is_err() {
            return Err(bad("name", &format!("must be {}", ChannelName::RULE)));
        }
        if !names.insert(c.name.clone()) {
            return Err(bad("name", "declared twice"));
        }
        let range = |field: &str, v: Option<i64>, default: u64, min: u64, max: u64| {
            let v = v.map_or(Ok(default), |v| {
                u64::try_from(v).map_err(|_| bad(field, "must not be negative"))
            })?;
            if (min..=max).contains(&v) {
                Ok(v)
            } else {
                Err(bad(field, &format!("must be between {min} and {max}")))
            }
        };
        let metaint = range("metaint", c.metaint, DEFAULT_METAINT as u64, 256, 1 << 20)? as usize;
        let burst_ms = range("burst_ms", c.burst_ms, DEFAULT_BURST_MS, 0, 60_000)?;
        let lag_ms = range("lag_ms", c.lag_ms, DEFAULT_LAG_MS, 500, 600_000)?;
        let max_children = range(
            "max_children",
            c.max_children,
            DEFAULT_MAX_CHILDREN,
            0,
            1024,
        )? as usize;
        let source = match c.source {
            Some(url) => {
                if c.playlist.is_some() {
                    return Err(bad("source", "a relay has no playlist"));
                }
                if c.order.is_some() {
                    return Err(bad("order", "a relay has no playlist to order"));
                }
                if let Some(bind) = url.strip_prefix("udp://") {
                    udp_bind(bind).ok_or_else(|| {
                        bad(
                            "source",
                            "must be udp://HOST:PORT (an IP address and a port)",
                        )
                    })?;
                    Source::Udp {
                        bind: bind.to_owned(),
                        url,
                    }
                } else {
                    let upstream = Upstream::parse(&url).ok_or_else(|| {
                        bad(
                            "source",
                            "must be an http://HOST:PORT/PATH URL, grid:ID/PATH (a grid adapter or replica group) or udp://HOST:PORT",
                        )
                    })?;
                    Source::Relay { url, upstream }
                }
            }
            None => {
                let order = match c.order.as_deref() {
                    None | Some("in-order") => Order::InOrder,
                    Some("shuffle") => Order::Shuffle,
                    Some(_) => return Err(bad("order", "must be \"in-order\" or \"shuffle\"")),
                };
                if let Some(entries) = &c.playlist
                    && entries.iter().any(|e| e.trim().is_empty())
                {
                    return Err(bad("playlist", "an entry is empty"));
                }
                Source::Playlist {
                    entries: c.playlist,
                    order,
                }
            }
        };
        out.push(ChannelConfig {
            name: c.name,
            description: c.description.unwrap_or_default(),
            genre: c.genre.unwrap_or_default(),
            source,
            metaint,
            burst_ms,
            lag_ms,
            max_children,
        });
    }
    Ok(out)
}

/// The address of a `udp://` source: an IP address and a port, nothing else (no path: a
/// datagram source has none, and a typo there should not pass silently).
pub fn udp_bind(bind: &str) -> Option<std::net::SocketAddr> {
    bind.parse().ok()
}

/// `http://host[:port]/path` → (`host:port`, `/path`).
pub(crate) fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, target) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let target = if target.starts_with('?') {
        format!("/{target}")
    } else {
        target
    };
    if authority.is_empty() || authority.contains(['@', ' ']) {
        return None;
    }
    let authority = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'))
    {
        let (host, port) = authority.rsplit_once(':')?;
        port.parse::<u16>().ok()?;
        if host.is_empty() {
            return None;
        }
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    Some((authority, target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_file_parses_with_defaults() {
        let c = parse(
            r#"
            [[channel]]
            name = "lounge"
            genre = "Ambient"
            playlist = ["Harbour Lights", "0123456789abcdef"]
            order = "shuffle"
            metaint = 8192

            [[channel]]
            name = "relay-1"
            source = "http://127.0.0.1:8000/lounge?x=1"

            [[channel]]
            name = "udp-in"
            source = "udp://127.0.0.1:5004"
            "#,
        )
        .unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(
            c[2].source,
            Source::Udp {
                url: "udp://127.0.0.1:5004".into(),
                bind: "127.0.0.1:5004".into()
            }
        );
        assert_eq!(c[0].metaint, 8192);
        assert_eq!(c[0].burst_ms, DEFAULT_BURST_MS);
        assert_eq!(c[0].max_children, 2);
        assert_eq!(
            c[0].source,
            Source::Playlist {
                entries: Some(vec!["Harbour Lights".into(), "0123456789abcdef".into()]),
                order: Order::Shuffle
            }
        );
        assert_eq!(
            c[1].source,
            Source::Relay {
                url: "http://127.0.0.1:8000/lounge?x=1".into(),
                upstream: Upstream::Http {
                    authority: "127.0.0.1:8000".into(),
                    target: "/lounge?x=1".into()
                }
            }
        );
        assert_eq!(
            Upstream::parse("grid:MediaServerGroup/live/lounge"),
            Some(Upstream::Grid {
                id: "MediaServerGroup".into(),
                target: "/live/lounge".into()
            })
        );
        assert_eq!(Upstream::parse("grid:/live/x"), None);
        assert_eq!(Upstream::parse("grid:a b/live/x"), None);
        assert_eq!(Upstream::parse("grid:G"), None);
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn errors_name_the_channel_and_the_field() {
        for (text, want) in [
            (
                "[[channel]]\nname = \"Bad Name\"",
                "channel 'Bad Name': name",
            ),
            (
                "[[channel]]\nname = \"a\"\nmetaint = 0",
                "channel 'a': metaint",
            ),
            (
                "[[channel]]\nname = \"a\"\nlag_ms = -1",
                "channel 'a': lag_ms",
            ),
            (
                "[[channel]]\nname = \"a\"\nmax_children = 2000",
                "channel 'a': max_children: must be between 0 and 1024",
            ),
            (
                "[[channel]]\nname = \"a\"\norder = \"random\"",
                "channel 'a': order",
            ),
            (
                "[[channel]]\nname = \"a\"\nsource = \"ftp://x\"",
                "channel 'a': source",
            ),
            (
                "[[channel]]\nname = \"a\"\nsource = \"http://x:1/\"\nplaylist = []",
                "channel 'a': source",
            ),
            (
                "[[channel]]\nname = \"a\"\n[[channel]]\nname = \"a\"",
                "channel 'a': name",
            ),
            ("[[channel]]\nname = \"a\"\nmetaintt = 5", "metaintt"),
            (
                "[[channel]]\nname = \"a\"\nsource = \"udp://localhost:5000/x\"",
                "channel 'a': source",
            ),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
