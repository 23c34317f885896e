//! The ICY (Shoutcast) codec of seed 001 §2: encoders for a request, a reply and data segments, and
//! an incremental parser for all three.
//!
//! # The protocol
//! A player asks `GET /path HTTP/1.0` with `Icy-MetaData: 1`; the server answers `ICY 200 OK` (or
//! `HTTP/1.x 200 OK`) with `icy-name`, `icy-genre`, `icy-br`, `content-type` and `icy-metaint: M`.
//! The body is a sequence of *segments*: M bytes of audio, then a metadata block, one byte `k` and
//! `k * 16` bytes of text (`StreamTitle='...';StreamUrl='...';`) padded with zeros. `k = 0` is an
//! empty block, which is what nearly every segment carries: the title is sent when it changes.
//!
//! # Encoding
//! - [`encode_request`], [`encode_reply`]: a head into any [`BufMut`]. They never fail: a CR or LF
//!   inside a name or value is written as a space, so no value can inject a header line.
//! - [`encode_metadata`]: a metadata block, built once per title and reused as [`Bytes`] by every
//!   listener ([`EMPTY_BLOCK`] is the `k = 0` block).
//! - [`encode_segment`] / [`encode_segment_with_block`]: M bytes of audio and a block, with no
//!   allocation beyond the output buffer's own growth.
//! - The seed's sender-function style: [`send_request`], [`send_reply`], [`send_segment`] hand the
//!   bytes to a `FnMut(&[u8])` (a socket write, a `Vec`, a print).
//! - [`Framer`]: the encoder a live server really needs. A listener joins at any point of a
//!   stream, and the audio of a channel arrives in pieces of any size; the framer keeps the
//!   listener's position within the interval and inserts the block at every boundary, handing out
//!   slices of the caller's `Bytes` (reference-counted, never copied).
//!
//! # Parsing
//! [`Decoder`] is the seed's parser with its continuations turned into a state machine that owns
//! its input buffer: [`Decoder::feed`] appends bytes as they arrive in pieces of any size, and
//! [`Decoder::next`] returns the seed's three outcomes as `Ok(Some(item))` (parsed; the rest stays
//! buffered for the next call), `Ok(None)` (need more) and `Err` (error; the decoder then keeps
//! answering that error). For code written the seed's way, [`request`] and [`reply`] return an
//! [`Outcome`]: `Parsed(head, rest)`, `More(continuation)` or `Error`.
//!
//! Choices, and why:
//! - **Data already consumed is never scanned again.** Head lines are parsed and dropped one by
//!   one as their `\n` arrives, and the search for the next `\n` resumes where the previous search
//!   stopped; audio and metadata are counted, not scanned.
//! - **Bounded memory.** A head longer than [`Limits::max_head_bytes`] (16 KiB) or with more than
//!   [`Limits::max_headers`] (64) lines is an error as soon as the limit is crossed, however the
//!   bytes were split; a metadata block is at most 4081 bytes. The decoder itself holds no more
//!   than that plus what the caller fed since its last `next()`.
//! - **Audio is handed out as it arrives** ([`Item::Audio`], a zero-copy slice of the input
//!   buffer) rather than once a whole interval (32 KiB, two seconds at 128 kbit/s) is complete: a
//!   player or a relay forwards it at once. Each metadata block ends its segment
//!   ([`Item::Metadata`], also for empty blocks), and both carry the segment number (the seed's
//!   `{data, N, Data}`) so a relay can detect a gap or a duplicate.
//! - **Lenient where real servers vary**: a bare `\n` ends a line like `\r\n`, spaces around a
//!   header value are dropped, header names are matched without regard to case, and leading
//!   empty lines before a start line are skipped. Text that is not UTF-8 (old servers send
//!   ISO-8859-1 titles and names) is read as Latin-1, so every byte becomes a character and
//!   nothing is replaced by `U+FFFD`.
//! - **Titles are not escaped**, because the de-facto format has no escaping: a title is written
//!   between single quotes as it is. The parser ends a quoted value at the first `';` that is
//!   followed by the end of the text or by the next field (`Key='`), so titles with quotes
//!   (`Guns N' Roses`), semicolons, `=`, non-ASCII and empty titles all survive a round trip.
//!   The one text that cannot is a value that itself contains `';Key='`, or ends with `';Key=`
//!   (it reads as two fields); a value cannot end with a NUL either, as trailing NULs are padding. This matches the
//!   `icy-metadata` crate's reading of such titles (tested against it).
//! - **A title too long for a block** (4080 bytes) is an error from [`encode_metadata`]
//!   ([`IcyError::MetadataTooLong`]), not a silent cut: the caller decides, and
//!   [`Metadata::truncate_to_fit`] cuts the title at a character boundary when that is what it
//!   wants (a live channel whose tags hold an absurd title).
//! - A reply that is not a success (`404`, `503`) has no metadata framing: its body comes out as
//!   plain [`Item::Audio`], whatever its `icy-metaint`; so does a reply without `icy-metaint`.

use std::num::NonZeroUsize;

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

/// The longest metadata text a block can carry: `k` is one byte, and a unit is 16 bytes.
pub const MAX_METADATA_LEN: usize = 255 * 16;
/// The metadata block of a segment without metadata (`k = 0`).
pub const EMPTY_BLOCK: &[u8] = &[0];
/// [`Limits::max_head_bytes`] by default.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 16 * 1024;
/// [`Limits::max_headers`] by default.
pub const DEFAULT_MAX_HEADERS: usize = 64;

/// The longest piece of offending input an error message quotes.
const QUOTE_MAX: usize = 80;

/// What was wrong with the input (or, for [`IcyError::MetadataTooLong`], with what was to be
/// encoded).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IcyError {
    /// The request or reply head is longer than the limit (no end of head within it).
    #[error("head longer than {limit} bytes")]
    HeadTooLong {
        /// The limit in force ([`Limits::max_head_bytes`]).
        limit: usize,
    },
    /// The head has more header lines than the limit.
    #[error("more than {limit} header lines")]
    TooManyHeaders {
        /// The limit in force ([`Limits::max_headers`]).
        limit: usize,
    },
    /// The first line of a request is not `METHOD TARGET HTTP/1.x`.
    #[error("bad request line {0:?}")]
    BadRequestLine(String),
    /// The first line of a reply is not `ICY 200 OK` or `HTTP/1.x 200 OK`.
    #[error("bad status line {0:?}")]
    BadStatusLine(String),
    /// A header line without a colon, with an empty or spaced name, or a folded continuation.
    #[error("bad header line {0:?}")]
    BadHeader(String),
    /// `icy-metaint` is not a positive integer.
    #[error("bad icy-metaint {0:?}")]
    BadMetaint(String),
    /// The metadata text does not fit in one block.
    #[error("metadata text of {len} bytes is longer than the {MAX_METADATA_LEN} a block holds")]
    MetadataTooLong {
        /// Length of the text that was to be encoded.
        len: usize,
    },
}

/// The word at the start of a reply's status line (and at the end of a request line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// `ICY`: SHOUTcast v1's status line, `ICY 200 OK`.
    Icy,
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1` (Icecast's replies).
    Http11,
}

impl Protocol {
    /// The word as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Icy => "ICY",
            Protocol::Http10 => "HTTP/1.0",
            Protocol::Http11 => "HTTP/1.1",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        match word {
            "ICY" => Some(Protocol::Icy),
            "HTTP/1.0" => Some(Protocol::Http10),
            "HTTP/1.1" => Some(Protocol::Http11),
            _ => None,
        }
    }
}

/// Header lines in their order, names as written (looked up without regard to case).
pub type Headers = Vec<(String, String)>;

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A player's request: `GET /live/jazz HTTP/1.0` and its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcyRequest {
    /// `GET` (any token is accepted).
    pub method: String,
    /// The request target, e.g. `/live/jazz`.
    pub path: String,
    /// `HTTP/1.0` or `HTTP/1.1` (the parser also takes `ICY`, which no player sends).
    pub protocol: Protocol,
    /// The header lines.
    pub headers: Headers,
}

impl IcyRequest {
    /// The seed's request: `GET path HTTP/1.0` with `Host`, `User-Agent` and `Icy-MetaData: 1`.
    pub fn get(host: &str, path: &str) -> Self {
        IcyRequest {
            method: "GET".into(),
            path: path.into(),
            protocol: Protocol::Http10,
            headers: vec![
                ("Host".into(), host.into()),
                (
                    "User-Agent".into(),
                    concat!("spotifice-grid/", env!("CARGO_PKG_VERSION")).into(),
                ),
                ("Icy-MetaData".into(), "1".into()),
            ],
        }
    }

    /// Adds a header line.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the player asked for interleaved metadata (`Icy-MetaData: 1`).
    pub fn wants_metadata(&self) -> bool {
        self.header("icy-metadata").is_some_and(|v| v.trim() == "1")
    }
}

/// A server's reply head: `ICY 200 OK` and its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcyReply {
    /// `ICY`, `HTTP/1.0` or `HTTP/1.1`.
    pub protocol: Protocol,
    /// Status code (three digits).
    pub status: u16,
    /// Reason phrase (may be empty).
    pub reason: String,
    /// The header lines.
    pub headers: Headers,
}

impl IcyReply {
    /// A reply without headers.
    pub fn new(protocol: Protocol, status: u16, reason: &str) -> Self {
        IcyReply {
            protocol,
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    /// The seed's `ICY 200 OK`.
    pub fn icy_ok() -> Self {
        IcyReply::new(Protocol::Icy, 200, "OK")
    }

    /// Adds a header line.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The first header of that name (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// A 2xx status.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// `icy-metaint`: `None` when absent, an error when not a positive integer.
    pub fn metaint(&self) -> Result<Option<NonZeroUsize>, IcyError> {
        match self.header("icy-metaint") {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<NonZeroUsize>()
                .map(Some)
                .map_err(|_| IcyError::BadMetaint(quote(v.as_bytes()))),
        }
    }

    /// `icy-name`.
    pub fn name(&self) -> Option<&str> {
        self.header("icy-name")
    }

    /// `icy-genre`.
    pub fn genre(&self) -> Option<&str> {
        self.header("icy-genre")
    }

    /// `icy-br` in kbit/s (the first number, as some servers send `128,128`).
    pub fn bitrate(&self) -> Option<u32> {
        let v = self.header("icy-br")?.trim();
        let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
        v[..digits].parse().ok()
    }

    /// `content-type`.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }
}

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
fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn quote(bytes: &[u8]) -> String {
    let mut s = decode_text(&bytes[..bytes.len().min(QUOTE_MAX)]);
    if bytes.len() > QUOTE_MAX {
        s.push('…');
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Encoding

/// Writes `s` with every CR and LF as a space, so no value can end a line.
fn put_line_safe(out: &mut impl BufMut, s: &str) {
    let mut rest = s.as_bytes();
    while let Some(i) = rest.iter().position(|&b| b == b'\r' || b == b'\n') {
        out.put_slice(&rest[..i]);
        out.put_u8(b' ');
        rest = &rest[i + 1..];
    }
    out.put_slice(rest);
}

fn put_headers(out: &mut impl BufMut, headers: &[(String, String)]) {
    for (name, value) in headers {
        put_line_safe(out, name);
        out.put_slice(b": ");
        put_line_safe(out, value);
        out.put_slice(b"\r\n");
    }
    out.put_slice(b"\r\n");
}

/// Writes a request head: request line, headers, empty line.
pub fn encode_request(req: &IcyRequest, out: &mut impl BufMut) {
    put_line_safe(out, &req.method);
    out.put_u8(b' ');
    put_line_safe(out, &req.path);
    out.put_u8(b' ');
    out.put_slice(req.protocol.as_str().as_bytes());
    out.put_slice(b"\r\n");
    put_headers(out, &req.headers);
}

/// Writes a reply head: status line, headers, empty line. The body (segments) follows.
pub fn encode_reply(reply: &IcyReply, out: &mut impl BufMut) {
    out.put_slice(reply.protocol.as_str().as_bytes());
    out.put_u8(b' ');
    let status = reply.status.min(999);
    out.put_slice(&[
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]);
    if !reply.reason.is_empty() {
        out.put_u8(b' ');
        put_line_safe(out, &reply.reason);
    }
    out.put_slice(b"\r\n");
    put_headers(out, &reply.headers);
}

/// Writes the metadata block of `meta` (`k`, text, zero padding), or an error when the text is
/// longer than [`MAX_METADATA_LEN`]; nothing is written then. Empty metadata is the `k = 0` block.
pub fn write_metadata_block(meta: &Metadata, out: &mut impl BufMut) -> Result<(), IcyError> {
    let len = meta.text_len();
    if len > MAX_METADATA_LEN {
        return Err(IcyError::MetadataTooLong { len });
    }
    let k = len.div_ceil(16);
    out.put_u8(k as u8);
    meta.write_text(out);
    out.put_bytes(0, k * 16 - len);
    Ok(())
}

/// The metadata block of `meta`, to build once per title and reuse for every listener.
pub fn encode_metadata(meta: &Metadata) -> Result<Bytes, IcyError> {
    let mut out = BytesMut::with_capacity(1 + meta.text_len().div_ceil(16) * 16);
    write_metadata_block(meta, &mut out)?;
    Ok(out.freeze())
}

/// Writes a data segment: `audio` (the interval's `icy-metaint` bytes, not checked) then the
/// block of `metadata` (`None` or empty: the `k = 0` block). On error nothing is written.
pub fn encode_segment(
    audio: &[u8],
    metadata: Option<&Metadata>,
    out: &mut impl BufMut,
) -> Result<(), IcyError> {
    let meta = metadata.filter(|m| !m.is_empty());
    if let Some(m) = meta {
        let len = m.text_len();
        if len > MAX_METADATA_LEN {
            return Err(IcyError::MetadataTooLong { len });
        }
    }
    out.put_slice(audio);
    match meta {
        Some(m) => write_metadata_block(m, out),
        None => {
            out.put_u8(0);
            Ok(())
        }
    }
}

/// Writes a data segment with a block already encoded ([`encode_metadata`], [`EMPTY_BLOCK`]).
pub fn encode_segment_with_block(audio: &[u8], block: &[u8], out: &mut impl BufMut) {
    out.put_slice(audio);
    out.put_slice(block);
}

/// The seed's `send_request`: encodes the head and hands it to `sender` in one piece.
pub fn send_request(req: &IcyRequest, mut sender: impl FnMut(&[u8])) {
    let mut buf = Vec::with_capacity(256);
    encode_request(req, &mut buf);
    sender(&buf);
}

/// The seed's `send_reply`: encodes the head and hands it to `sender` in one piece.
pub fn send_reply(reply: &IcyReply, mut sender: impl FnMut(&[u8])) {
    let mut buf = Vec::with_capacity(512);
    encode_reply(reply, &mut buf);
    sender(&buf);
}

/// The seed's `send_data`: hands `sender` the audio, then the block (two calls, no copy).
pub fn send_segment(audio: &[u8], block: &[u8], mut sender: impl FnMut(&[u8])) {
    sender(audio);
    sender(block);
}

/// One listener's framing of a live stream: audio in pieces of any size goes in, and out come
/// the same bytes with a metadata block after every `metaint` bytes of audio.
///
/// The block after a boundary is the one set by [`Framer::set_metadata`] since the previous
/// boundary, sent once; the empty block otherwise. A new listener's framer is given the current
/// title at once, so its first block names the track.
#[derive(Debug, Clone)]
pub struct Framer {
    metaint: usize,
    pos: usize,
    segment: u64,
    pending: Option<Bytes>,
}

impl Framer {
    /// A framer at the start of an interval.
    pub fn new(metaint: NonZeroUsize) -> Self {
        Framer {
            metaint: metaint.get(),
            pos: 0,
            segment: 0,
            pending: None,
        }
    }

    /// The block to send at the next boundary (from [`encode_metadata`]); replaces one not yet sent.
    pub fn set_metadata(&mut self, block: Bytes) {
        self.pending = Some(block);
    }

    /// Frames `audio`: hands `send` slices of it (sharing its memory) and the blocks between.
    pub fn push(&mut self, audio: &Bytes, mut send: impl FnMut(Bytes)) {
        let mut rest = audio.clone();
        while !rest.is_empty() {
            let room = self.metaint - self.pos;
            if rest.len() < room {
                self.pos += rest.len();
                send(rest);
                return;
            }
            send(rest.split_to(room));
            self.pos = 0;
            self.segment += 1;
            send(
                self.pending
                    .take()
                    .unwrap_or_else(|| Bytes::from_static(EMPTY_BLOCK)),
            );
        }
    }

    /// Bytes of audio sent in the current interval.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Segments completed (blocks sent).
    pub fn segments(&self) -> u64 {
        self.segment
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding

/// Bounds on a head, so that no input can make the decoder hold more than this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of a head, start line and empty line included.
    pub max_head_bytes: usize,
    /// Header lines.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
            max_headers: DEFAULT_MAX_HEADERS,
        }
    }
}

/// What the decoder parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A request head (from [`Decoder::request`]); the decoder is then done.
    Request(IcyRequest),
    /// A reply head (from [`Decoder::reply`]); segments follow.
    Reply(IcyReply),
    /// Audio bytes of segment `segment`, as they arrived (a piece of the interval, never
    /// crossing its end).
    Audio {
        /// Number of the segment, from 0.
        segment: u64,
        /// The bytes.
        data: Bytes,
    },
    /// The metadata block that ends segment `segment`; `None` for an empty block (`k = 0`).
    Metadata {
        /// Number of the segment it ends.
        segment: u64,
        /// The fields, when the block is not empty.
        metadata: Option<Metadata>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadKind {
    Request,
    Reply,
}

#[derive(Debug)]
enum StartLine {
    Request {
        method: String,
        path: String,
        protocol: Protocol,
    },
    Reply {
        protocol: Protocol,
        status: u16,
        reason: String,
    },
}

#[derive(Debug)]
enum State {
    Head {
        kind: HeadKind,
        start: Option<StartLine>,
        headers: Headers,
        /// Bytes of the lines already parsed and dropped.
        consumed: usize,
        /// Where the search for `\n` resumes in the buffer.
        scan: usize,
    },
    /// Audio of the current interval: `left` bytes to its end (`None`: no framing).
    Audio {
        left: Option<usize>,
    },
    /// Waiting for the `k` byte.
    BlockLen,
    /// Waiting for `len` bytes of metadata text.
    Block {
        len: usize,
    },
    Done,
    Failed(IcyError),
}

/// The incremental parser: feed it bytes as they come, take items out. See the module docs.
#[derive(Debug)]
pub struct Decoder {
    buf: BytesMut,
    state: State,
    limits: Limits,
    metaint: Option<NonZeroUsize>,
    segment: u64,
}

impl Decoder {
    fn with_state(state: State, limits: Limits) -> Self {
        Decoder {
            buf: BytesMut::new(),
            state,
            limits,
            metaint: None,
            segment: 0,
        }
    }

    fn head(kind: HeadKind, limits: Limits) -> Self {
        let state = State::Head {
            kind,
            start: None,
            headers: Vec::new(),
            consumed: 0,
            scan: 0,
        };
        Decoder::with_state(state, limits)
    }

    /// Parses one request head, then is done (what follows stays in [`Decoder::rest`]).
    pub fn request() -> Self {
        Decoder::head(HeadKind::Request, Limits::default())
    }

    /// Parses a reply head, then its body as segments framed by its `icy-metaint`.
    pub fn reply() -> Self {
        Decoder::head(HeadKind::Reply, Limits::default())
    }

    /// Parses a body alone: segments of `metaint` bytes of audio, or plain audio for `None`.
    pub fn body(metaint: Option<NonZeroUsize>) -> Self {
        let mut d = Decoder::with_state(
            State::Audio {
                left: metaint.map(NonZeroUsize::get),
            },
            Limits::default(),
        );
        d.metaint = metaint;
        d
    }

    /// The same decoder with other head limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Appends input.
    pub fn feed(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The input buffer, to read a socket straight into (`read_buf`). Only append to it.
    pub fn input(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Input not yet handed out.
    pub fn rest(&self) -> &[u8] {
        &self.buf
    }

    /// The input not yet handed out, e.g. what followed a request head.
    pub fn into_rest(self) -> BytesMut {
        self.buf
    }

    /// The interval in force: set by [`Decoder::body`] or by a successful reply's `icy-metaint`.
    pub fn metaint(&self) -> Option<NonZeroUsize> {
        self.metaint
    }

    /// Number of the segment being read (segments completed so far).
    pub fn segment(&self) -> u64 {
        self.segment
    }

    /// The next item: `Ok(Some)` parsed, `Ok(None)` need more input, `Err` the input is wrong
    /// (and stays wrong: every later call returns the same error).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Item>, IcyError> {
        let r = self.step();
        if let Err(e) = &r {
            self.state = State::Failed(e.clone());
        }
        r
    }

    fn step(&mut self) -> Result<Option<Item>, IcyError> {
        loop {
            match &mut self.state {
                State::Failed(e) => return Err(e.clone()),
                State::Done => return Ok(None),
                State::Head { .. } => return self.head_step(),
                State::Audio { left: None } => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    let data = self.buf.split().freeze();
                    return Ok(Some(Item::Audio {
                        segment: self.segment,
                        data,
                    }));
                }
                State::Audio { left: Some(0) } => self.state = State::BlockLen,
                State::Audio { left: Some(left) } => {
                    if self.buf.is_empty() {
                        return Ok(None);
                    }
                    let n = (*left).min(self.buf.len());
                    *left -= n;
                    let data = self.buf.split_to(n).freeze();
                    return Ok(Some(Item::Audio {
                        segment: self.segment,
                        data,
                    }));
                }
                State::BlockLen => {
                    let Some(&k) = self.buf.first() else {
                        return Ok(None);
                    };
                    let _ = self.buf.split_to(1);
                    if k == 0 {
                        return Ok(Some(self.end_segment(None)));
                    }
                    self.state = State::Block {
                        len: usize::from(k) * 16,
                    };
                }
                State::Block { len } => {
                    let len = *len;
                    if self.buf.len() < len {
                        return Ok(None);
                    }
                    let text = self.buf.split_to(len);
                    return Ok(Some(self.end_segment(Some(Metadata::parse(&text)))));
                }
            }
        }
    }

    fn end_segment(&mut self, metadata: Option<Metadata>) -> Item {
        let segment = self.segment;
        self.segment += 1;
        self.state = State::Audio {
            left: self.metaint.map(NonZeroUsize::get),
        };
        Item::Metadata { segment, metadata }
    }

    fn head_step(&mut self) -> Result<Option<Item>, IcyError> {
        let limits = self.limits;
        let State::Head {
            kind,
            start,
            headers,
            consumed,
            scan,
        } = &mut self.state
        else {
            unreachable!("head_step outside a head")
        };
        loop {
            // The current line may reach up to the limit, its `\n` included.
            let allowance = limits.max_head_bytes.saturating_sub(*consumed);
            let window_end = self.buf.len().min(allowance);
            let found = self.buf[(*scan).min(window_end)..window_end]
                .iter()
                .position(|&b| b == b'\n');
            let Some(i) = found else {
                if self.buf.len() >= allowance {
                    return Err(IcyError::HeadTooLong {
                        limit: limits.max_head_bytes,
                    });
                }
                *scan = window_end;
                return Ok(None);
            };
            let line = self.buf.split_to(*scan + i + 1);
            *scan = 0;
            *consumed += line.len();
            let mut text = &line[..line.len() - 1];
            if let Some(t) = text.strip_suffix(b"\r") {
                text = t;
            }
            match start {
                None if text.is_empty() => {} // empty lines before a start line are skipped
                None => *start = Some(parse_start_line(*kind, text)?),
                Some(_) if !text.is_empty() => {
                    if headers.len() >= limits.max_headers {
                        return Err(IcyError::TooManyHeaders {
                            limit: limits.max_headers,
                        });
                    }
                    headers.push(parse_header(text)?);
                }
                Some(_) => break,
            }
        }
        // The empty line: the head is complete.
        let headers = std::mem::take(headers);
        let item = match start.take() {
            Some(StartLine::Request {
                method,
                path,
                protocol,
            }) => {
                self.state = State::Done;
                Item::Request(IcyRequest {
                    method,
                    path,
                    protocol,
                    headers,
                })
            }
            Some(StartLine::Reply {
                protocol,
                status,
                reason,
            }) => {
                let reply = IcyReply {
                    protocol,
                    status,
                    reason,
                    headers,
                };
                self.metaint = if reply.is_success() {
                    reply.metaint()?
                } else {
                    None
                };
                self.state = State::Audio {
                    left: self.metaint.map(NonZeroUsize::get),
                };
                Item::Reply(reply)
            }
            None => unreachable!("the empty line ends a head only after its start line"),
        };
        Ok(Some(item))
    }
}

fn parse_start_line(kind: HeadKind, line: &[u8]) -> Result<StartLine, IcyError> {
    let text = decode_text(line);
    match kind {
        HeadKind::Request => {
            let bad = || IcyError::BadRequestLine(quote(line));
            let mut words = text.split(' ');
            let (Some(method), Some(path), Some(version), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(bad());
            };
            let protocol = Protocol::parse(version).ok_or_else(bad)?;
            if method.is_empty() || path.is_empty() || !method.bytes().all(is_token_byte) {
                return Err(bad());
            }
            Ok(StartLine::Request {
                method: method.into(),
                path: path.into(),
                protocol,
            })
        }
        HeadKind::Reply => {
            let bad = || IcyError::BadStatusLine(quote(line));
            let (word, rest) = text.split_once(' ').ok_or_else(bad)?;
            let protocol = Protocol::parse(word).ok_or_else(bad)?;
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let status = code.parse().map_err(|_| bad())?;
            Ok(StartLine::Reply {
                protocol,
                status,
                reason: reason.into(),
            })
        }
    }
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn parse_header(line: &[u8]) -> Result<(String, String), IcyError> {
    let bad = || IcyError::BadHeader(quote(line));
    let colon = line.iter().position(|&b| b == b':').ok_or_else(bad)?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    let value = decode_text(&line[colon + 1..]);
    let name = String::from_utf8(name.to_vec()).map_err(|_| bad())?;
    Ok((name, value.trim_matches([' ', '\t']).to_string()))
}

// ---------------------------------------------------------------------------------------------
// The seed's continuation style

/// What [`request`], [`reply`] and [`Continuation::resume`] return: the seed's three outcomes.
#[derive(Debug)]
pub enum Outcome<T> {
    /// The head, and a decoder holding the rest: the body to read for a reply, what followed the
    /// head for a request ([`Decoder::into_rest`]).
    Parsed(T, Decoder),
    /// Need more input: resume with the next piece.
    More(Continuation<T>),
    /// The input is wrong.
    Error(IcyError),
}

/// A head parse waiting for more input; it remembers how far it got.
#[derive(Debug)]
pub struct Continuation<T> {
    decoder: Decoder,
    take: fn(Item) -> Option<T>,
}

impl<T> Continuation<T> {
    /// Parses on with `more` input.
    pub fn resume(mut self, more: &[u8]) -> Outcome<T> {
        self.decoder.feed(more);
        self.run()
    }

    fn run(mut self) -> Outcome<T> {
        match self.decoder.next() {
            Ok(Some(item)) => match (self.take)(item) {
                Some(head) => Outcome::Parsed(head, self.decoder),
                None => unreachable!("a head decoder yields its head first"),
            },
            Ok(None) => Outcome::More(self),
            Err(e) => Outcome::Error(e),
        }
    }
}

/// The seed's `icy:request(Bin)`.
pub fn request(input: &[u8]) -> Outcome<IcyRequest> {
    let take = |item| match item {
        Item::Request(r) => Some(r),
        _ => None,
    };
    Continuation {
        decoder: Decoder::request(),
        take,
    }
    .resume(input)
}

/// The seed's `icy:reply(Bin)`: the reply head, and the decoder that yields its segments.
pub fn reply(input: &[u8]) -> Outcome<IcyReply> {
    let take = |item| match item {
        Item::Reply(r) => Some(r),
        _ => None,
    };
    Continuation {
        decoder: Decoder::reply(),
        take,
    }
    .resume(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(d: &mut Decoder) -> Vec<Item> {
        let mut items = Vec::new();
        while let Some(item) = d.next().unwrap() {
            items.push(item);
        }
        items
    }

    #[test]
    fn seed_request_examples() {
        let Outcome::Parsed(req, rest) = request(b"GET / HTTP/1.0\r\nkey:value\r\n\r\n") else {
            panic!("not parsed")
        };
        assert_eq!(req.path, "/");
        assert_eq!(req.headers, vec![("key".to_string(), "value".to_string())]);
        assert!(rest.rest().is_empty());

        let Outcome::More(f) = request(b"GET / HTTP/1.0\r\nkey:value\r\n") else {
            panic!("not more")
        };
        let Outcome::Parsed(req2, _) = f.resume(b"\r\n") else {
            panic!("not parsed")
        };
        assert_eq!(req, req2);
    }

    #[test]
    fn seed_reply_example() {
        let Outcome::Parsed(reply, mut data) = reply(b"ICY 200 OK\r\nicy-metaint: 5\r\n\r\n123")
        else {
            panic!("not parsed")
        };
        assert_eq!(reply.metaint().unwrap(), NonZeroUsize::new(5));
        assert_eq!(
            data.next().unwrap(),
            Some(Item::Audio {
                segment: 0,
                data: Bytes::from_static(b"123")
            })
        );
        assert_eq!(data.next().unwrap(), None);
        let mut more = b"45\x01hello".to_vec();
        more.extend([0; 11]);
        data.feed(&more);
        assert_eq!(
            data.next().unwrap(),
            Some(Item::Audio {
                segment: 0,
                data: Bytes::from_static(b"45")
            })
        );
        // "hello" is not a field: it is kept with an empty value.
        let Some(Item::Metadata {
            segment: 0,
            metadata: Some(m),
        }) = data.next().unwrap()
        else {
            panic!("no metadata")
        };
        assert_eq!(m.other, vec![("hello".to_string(), String::new())]);
        assert_eq!(data.next().unwrap(), None);
    }

    #[test]
    fn titles_round_trip() {
        for title in [
            "",
            "Guns N' Roses - Don't Cry",
            "a';b",
            "x=';'",
            "Sigur Rós – Hoppípolla 🎵",
            "'",
            "';",
            "a;b;c",
        ] {
            let m = Metadata {
                stream_title: Some(title.into()),
                stream_url: Some("http://x/';".into()),
                other: vec![],
            };
            let block = encode_metadata(&m).unwrap();
            assert_eq!(block.len(), 1 + usize::from(block[0]) * 16);
            assert_eq!(Metadata::parse(&block[1..]), m, "{title:?}");
        }
    }

    #[test]
    fn too_long_metadata() {
        let mut m = Metadata::title("é".repeat(3000));
        assert!(matches!(
            encode_metadata(&m),
            Err(IcyError::MetadataTooLong { .. })
        ));
        let mut out = Vec::new();
        assert!(encode_segment(b"abc", Some(&m), &mut out).is_err());
        assert!(out.is_empty());
        assert!(m.truncate_to_fit());
        assert!(m.text_len() <= MAX_METADATA_LEN);
        assert_eq!(encode_metadata(&m).unwrap()[0], 255);
    }

    #[test]
    fn head_limits() {
        let mut d = Decoder::request().with_limits(Limits {
            max_head_bytes: 64,
            max_headers: 2,
        });
        d.feed(b"GET / HTTP/1.0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n");
        assert_eq!(d.next(), Err(IcyError::TooManyHeaders { limit: 2 }));
        assert_eq!(d.next(), Err(IcyError::TooManyHeaders { limit: 2 }));

        let mut d = Decoder::request().with_limits(Limits {
            max_head_bytes: 64,
            max_headers: 2,
        });
        d.feed(b"GET / HTTP/1.0\r\n");
        for _ in 0..47 {
            d.feed(b"x");
            assert_eq!(d.next(), Ok(None));
        }
        d.feed(b"x");
        assert_eq!(d.next(), Err(IcyError::HeadTooLong { limit: 64 }));
    }

    #[test]
    fn no_rescan_of_a_long_line() {
        // Byte-at-a-time input: the scan position moves forward only.
        let mut d = Decoder::reply();
        let head = b"HTTP/1.1 200 OK\nicy-name: N\nicy-br: 128,128\nicy-metaint: 4\n\nabcd\x00ef";
        let mut items = Vec::new();
        for &b in head.iter() {
            d.feed(&[b]);
            items.extend(drain(&mut d));
            if let State::Head { scan, .. } = &d.state {
                assert_eq!(*scan, d.buf.len());
            }
        }
        let Item::Reply(r) = &items[0] else { panic!() };
        assert_eq!(
            (r.protocol, r.name(), r.bitrate()),
            (Protocol::Http11, Some("N"), Some(128))
        );
        assert_eq!(
            items.last(),
            Some(&Item::Audio {
                segment: 1,
                data: Bytes::from_static(b"f")
            })
        );
    }

    #[test]
    fn errors() {
        let bad = |kind: fn() -> Decoder, input: &[u8]| {
            let mut d = kind();
            d.feed(input);
            d.next().unwrap_err()
        };
        assert!(matches!(
            bad(Decoder::request, b"GET /\r\n"),
            IcyError::BadRequestLine(_)
        ));
        assert!(matches!(
            bad(Decoder::reply, b"ICY OK\r\n"),
            IcyError::BadStatusLine(_)
        ));
        assert!(matches!(
            bad(Decoder::reply, b"ICY 200 OK\r\nnocolon\r\n"),
            IcyError::BadHeader(_)
        ));
        assert!(matches!(
            bad(Decoder::reply, b"ICY 200 OK\r\nicy-metaint: 0\r\n\r\n"),
            IcyError::BadMetaint(_)
        ));
        // A failed reply keeps no framing.
        let mut d = Decoder::reply();
        d.feed(b"HTTP/1.0 404 Not Found\r\nicy-metaint: 2\r\n\r\nnot here");
        assert_eq!(drain(&mut d).len(), 2);
    }

    #[test]
    fn latin1_title() {
        let m = Metadata::parse(b"StreamTitle='Bj\xf6rk';\0\0");
        assert_eq!(m.stream_title.as_deref(), Some("Björk"));
    }

    #[test]
    fn framer_inserts_blocks() {
        let mut f = Framer::new(NonZeroUsize::new(3).unwrap());
        f.set_metadata(encode_metadata(&Metadata::title("t")).unwrap());
        let mut out = Vec::new();
        f.push(&Bytes::from_static(b"abcdefg"), |b| {
            out.extend_from_slice(&b)
        });
        let mut want = b"abc".to_vec();
        want.extend_from_slice(&encode_metadata(&Metadata::title("t")).unwrap());
        want.extend_from_slice(b"def\0g");
        assert_eq!(out, want);
        assert_eq!((f.position(), f.segments()), (1, 2));
    }

    #[test]
    fn header_injection_is_defused() {
        let req = IcyRequest::get("h", "/").with_header("x", "1\r\nEvil: yes");
        let mut out = Vec::new();
        encode_request(&req, &mut out);
        let Outcome::Parsed(back, _) = request(&out) else {
            panic!()
        };
        assert_eq!(back.header("x"), Some("1  Evil: yes"));
        assert_eq!(back.header("evil"), None);
    }
}
