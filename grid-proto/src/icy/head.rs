//! Request and reply heads: their types, their encoders and the sender-function forms.

use std::num::NonZeroUsize;

use bytes::BufMut;

use super::IcyError;
use super::metadata::quote;

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

    pub(super) fn parse(word: &str) -> Option<Self> {
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

pub(super) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
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
    /// A player's usual request: `GET path HTTP/1.0` with `Host`, `User-Agent` and `Icy-MetaData: 1`.
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

    /// A SHOUTcast v1 `ICY 200 OK`.
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

/// Writes `s` with every CR and LF as a space, so no value can end a line.
pub(super) fn put_line_safe(out: &mut impl BufMut, s: &str) {
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

/// Encodes the head and hands it to `sender` in one piece.
pub fn send_request(req: &IcyRequest, mut sender: impl FnMut(&[u8])) {
    let mut buf = Vec::with_capacity(256);
    encode_request(req, &mut buf);
    sender(&buf);
}

/// Encodes the head and hands it to `sender` in one piece.
pub fn send_reply(reply: &IcyReply, mut sender: impl FnMut(&[u8])) {
    let mut buf = Vec::with_capacity(512);
    encode_reply(reply, &mut buf);
    sender(&buf);
}
