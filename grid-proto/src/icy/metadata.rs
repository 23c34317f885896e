//! The fields of a metadata block, how their text is written and read back.

use bytes::BufMut;

use super::{MAX_METADATA_LEN, QUOTE_MAX};

/// The fields of a metadata block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `StreamTitle`, usually `Artist - Title`; `Some("")` is an empty title, which is sent.
    pub stream_title: Option<String>,
    /// `StreamUrl`.
    pub stream_url: Option<String>,
    /// Any other fields, in order (written after the two above).
    pub other: Vec<(String, String)>,
}

impl Metadata {
    /// Metadata with just a title.
    pub fn title(title: impl Into<String>) -> Self {
        Metadata {
            stream_title: Some(title.into()),
            ..Default::default()
        }
    }

    /// No field at all (encodes as the empty block).
    pub fn is_empty(&self) -> bool {
        self.stream_title.is_none() && self.stream_url.is_none() && self.other.is_empty()
    }

    fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        let title = self.stream_title.as_deref().map(|t| ("StreamTitle", t));
        let url = self.stream_url.as_deref().map(|u| ("StreamUrl", u));
        title
            .into_iter()
            .chain(url)
            .chain(self.other.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Length of the text (`StreamTitle='...';`…) before padding.
    pub fn text_len(&self) -> usize {
        self.fields().map(|(k, v)| k.len() + v.len() + 4).sum()
    }

    /// Writes the text, unpadded.
    pub fn write_text(&self, out: &mut impl BufMut) {
        for (k, v) in self.fields() {
            out.put_slice(k.as_bytes());
            out.put_slice(b"='");
            out.put_slice(v.as_bytes());
            out.put_slice(b"';");
        }
    }

    /// Cuts the title, at a character boundary, until the text fits in one block. False when
    /// the other fields alone do not fit.
    pub fn truncate_to_fit(&mut self) -> bool {
        let len = self.text_len();
        if len <= MAX_METADATA_LEN {
            return true;
        }
        let Some(title) = self.stream_title.as_mut() else {
            return false;
        };
        let excess = len - MAX_METADATA_LEN;
        if excess > title.len() {
            return false;
        }
        let mut cut = title.len() - excess;
        while !title.is_char_boundary(cut) {
            cut -= 1;
        }
        title.truncate(cut);
        true
    }

    /// Reads the text of a block (padding included or not).
    pub fn parse(text: &[u8]) -> Metadata {
        let end = text.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let text = decode_text(&text[..end]);
        let mut meta = Metadata::default();
        let mut rest = text.as_str();
        loop {
            rest = rest.trim_start_matches([' ', '\t', '\r', '\n', ';']);
            if rest.is_empty() {
                break;
            }
            let Some(eq) = rest.find('=') else {
                // A stray word without a value: kept as a field with an empty value.
                meta.push_field(rest.trim_end(), String::new());
                break;
            };
            let key = rest[..eq].trim();
            let after = &rest[eq + 1..];
            let (value, next) = match after.strip_prefix('\'') {
                Some(quoted) => match quoted_value_end(quoted) {
                    Some(i) => (&quoted[..i], &quoted[i + 2..]),
                    // No closing `';`: up to a final quote, or the end.
                    None => (quoted.strip_suffix('\'').unwrap_or(quoted), ""),
                },
                None => match after.find(';') {
                    Some(i) => (&after[..i], &after[i + 1..]),
                    None => (after, ""),
                },
            };
            meta.push_field(key, value.to_string());
            rest = next;
        }
        meta
    }

    fn push_field(&mut self, key: &str, value: String) {
        if key.eq_ignore_ascii_case("StreamTitle") && self.stream_title.is_none() {
            self.stream_title = Some(value);
        } else if key.eq_ignore_ascii_case("StreamUrl") && self.stream_url.is_none() {
            self.stream_url = Some(value);
        } else {
            self.other.push((key.to_string(), value));
        }
    }
}

/// Where a quoted value ends: the first `';` followed by the end of the text, or by optional
/// whitespace and the next field (`Key='`, a key of ASCII letters, digits, `_` and `-`).
fn quoted_value_end(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find("';").map(|i| i + from) {
        let tail = s[i + 2..].trim_start_matches([' ', '\t', '\r', '\n']);
        if tail.is_empty() || tail.bytes().all(|b| b == b';') || starts_with_field(tail) {
            return Some(i);
        }
        from = i + 1;
    }
    None
}

fn starts_with_field(s: &str) -> bool {
    let key_len = s
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        .count();
    key_len > 0 && s[key_len..].starts_with("='")
}

/// UTF-8 when it is, Latin-1 otherwise (every byte a character, nothing replaced).
pub(super) fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

pub(super) fn quote(bytes: &[u8]) -> String {
    let mut s = decode_text(&bytes[..bytes.len().min(QUOTE_MAX)]);
    if bytes.len() > QUOTE_MAX {
        s.push('…');
    }
    s
}
