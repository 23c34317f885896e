//! The incremental parser of heads and segments.

use std::num::NonZeroUsize;

use bytes::{Bytes, BytesMut};

use super::metadata::{decode_text, quote};
use super::*;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_rescan_of_a_long_line() {
        // Byte-at-a-time input: the scan position moves forward only.
        let mut d = Decoder::reply();
        let head = b"HTTP/1.1 200 OK\nicy-name: N\nicy-br: 128,128\nicy-metaint: 4\n\nabcd\x00ef";
        let mut items = Vec::new();
        for &b in head.iter() {
            d.feed(&[b]);
            while let Some(item) = d.next().unwrap() {
                items.push(item);
            }
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
}
