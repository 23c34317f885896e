//! The names the media plane gives things: a track id and a live channel's name. Each has one
//! rule, checked here whoever parses it, so a name one process accepts is one every other
//! process accepts too.
//!
//! [`FromStr`] and [`TryFrom`] take a name exactly as it travels between processes (the
//! canonical form); `from_input` takes what a person typed, blanks around it dropped (and, for a
//! track id, hex digits of either case), and yields the same canonical form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a text is not a name of the kind asked for: the text, what it should have been and the
/// rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not a {what}: {rule}")]
pub struct IdError {
    /// The text as given.
    pub given: String,
    /// What it should have been ("track id", "channel name").
    pub what: &'static str,
    /// The rule, in words.
    pub rule: &'static str,
}

/// A track id: the first 16 hex digits of the SHA-256 of the file's content, in lowercase, the
/// same on every replica. Nothing else is ever looked up, so no request can name a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackId(String);

impl TrackId {
    /// How many hex digits.
    pub const LEN: usize = 16;

    /// A track id as a person types it: blanks around it dropped, hex digits of either case.
    pub fn from_input(raw: &str) -> Result<Self, IdError> {
        raw.trim()
            .to_ascii_lowercase()
            .parse()
            .map_err(|e: IdError| IdError {
                given: raw.to_owned(),
                rule: "a track id is 16 hex digits",
                ..e
            })
    }
}

impl FromStr for TrackId {
    type Err = IdError;

    /// Exactly 16 lowercase hex digits, the form on the wire.
    fn from_str(id: &str) -> Result<Self, IdError> {
        let hex =
            id.len() == Self::LEN && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        checked(id, hex, "track id", "a track id is 16 lowercase hex digits").map(Self)
    }
}

/// A live channel's name (`docs/live.md`): 1 to 32 of `a-z`, `0-9` and `-`, a path segment
/// everywhere (`/live/{name}`) without any escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelName(String);

impl ChannelName {
    /// The longest name.
    pub const MAX_LEN: usize = 32;
    /// The rule, in words.
    pub const RULE: &'static str = "1 to 32 of a-z, 0-9 and -";

    /// A channel name as a person types it: blanks around it dropped.
    pub fn from_input(raw: &str) -> Result<Self, IdError> {
        raw.trim().parse().map_err(|e: IdError| IdError {
            given: raw.to_owned(),
            ..e
        })
    }
}

impl FromStr for ChannelName {
    type Err = IdError;

    fn from_str(name: &str) -> Result<Self, IdError> {
        let word = (1..=Self::MAX_LEN).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        checked(name, word, "channel name", Self::RULE).map(Self)
    }
}

/// `text`, owned, when it keeps the rule (`ok`); else why not.
fn checked(
    text: &str,
    ok: bool,
    what: &'static str,
    rule: &'static str,
) -> Result<String, IdError> {
    if ok {
        Ok(text.to_owned())
    } else {
        Err(IdError {
            given: text.to_owned(),
            what,
            rule,
        })
    }
}

/// What both names share: from text by the wire rule, to text, displayed as text.
macro_rules! text_name {
    ($name:ident) => {
        impl $name {
            /// The name, as it travels on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdError;

            fn try_from(s: &str) -> Result<Self, IdError> {
                s.parse()
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(s: String) -> Result<Self, IdError> {
                s.parse()
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_name!(TrackId);
text_name!(ChannelName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_16_lowercase_hex_digits_are_track_ids() {
        assert!("0123456789abcdef".parse::<TrackId>().is_ok());
        for bad in [
            "",
            "..",
            "0123456789ABCDEF",
            "0123456789abcde",
            "0123456789abcdef0",
            "../../etc/passwd",
            "/etc/passwd",
            "0123456789abcde/",
            "0123456789abcdeg",
        ] {
            let err = bad.parse::<TrackId>().unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("'{bad}' is not a track id: a track id is 16 lowercase hex digits")
            );
        }
    }

    #[test]
    fn typed_track_ids_take_either_case_and_blanks() {
        let id = TrackId::from_input(" 0123456789ABCDEF ").unwrap();
        assert_eq!(id.as_str(), "0123456789abcdef");
        for bad in [
            "",
            "0123",
            "../../etc/passwd",
            "0123456789abcdeg",
            "0123456789abcdef0",
        ] {
            let err = TrackId::from_input(bad).unwrap_err().to_string();
            assert!(err.contains("not a track id"), "{bad}: {err}");
        }
    }

    #[test]
    fn channel_names_are_short_lowercase_words() {
        assert_eq!(
            ChannelName::from_input(" lounge ").unwrap().as_str(),
            "lounge"
        );
        assert_eq!(
            ChannelName::from_input("relay-2").unwrap().as_str(),
            "relay-2"
        );
        assert!(" lounge".parse::<ChannelName>().is_err());
        for bad in ["", "Lounge", "a b", "../x", &"x".repeat(33)] {
            let err = ChannelName::from_input(bad).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("'{bad}' is not a channel name: 1 to 32 of a-z, 0-9 and -")
            );
        }
    }

    #[test]
    fn names_travel_as_plain_strings() {
        let id: TrackId = serde_json::from_str("\"00000000000000a1\"").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"00000000000000a1\"");
        assert!(serde_json::from_str::<TrackId>("\"00000000000000A1\"").is_err());
        let name: ChannelName = serde_json::from_str("\"lounge\"").unwrap();
        assert_eq!(name.to_string(), "lounge");
        assert!(serde_json::from_str::<ChannelName>("\"Lounge\"").is_err());
    }
}
