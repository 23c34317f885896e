//! Reading a `text/event-stream` (the registry's `GET /v1/events`): bytes in, whole events out,
//! however the body is split.

/// One event of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// Its `event:` name, if it had one.
    pub event: Option<String>,
    /// Its `id:`, if it had one.
    pub id: Option<String>,
    /// Its `data:` lines, joined with newlines.
    pub data: String,
}

/// The most an event may hold before the stream counts as broken: far more than the largest
/// snapshot a registry sends.
pub const MAX_EVENT: usize = 64 << 20;

/// Splits a stream into events; comments (the keep-alives) and events without data are skipped.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
}

/// A stream that broke the format's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an event of over {MAX_EVENT} bytes in the event stream")]
pub struct SseTooLong;

impl SseDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes of the body.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole event, if one has arrived.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseTooLong> {
        loop {
            let Some(end) = block_end(&self.buf) else {
                return if self.buf.len() > MAX_EVENT {
                    Err(SseTooLong)
                } else {
                    Ok(None)
                };
            };
            let block: Vec<u8> = self.buf.drain(..end.total).collect();
            let event = parse(&String::from_utf8_lossy(&block[..end.body]));
            if !event.data.is_empty() {
                return Ok(Some(event));
            }
        }
    }
}

/// Where the first block ends: its text, and its text with the blank line after it.
struct BlockEnd {
    body: usize,
    total: usize,
}

fn block_end(buf: &[u8]) -> Option<BlockEnd> {
    // A blank line: two line ends in a row, each `\n` or `\r\n`.
    let mut i = 0;
    while let Some(n) = buf[i..].iter().position(|b| *b == b'\n') {
        let line_end = i + n;
        let next = line_end + 1;
        if buf.get(next) == Some(&b'\n') {
            return Some(BlockEnd {
                body: line_end,
                total: next + 1,
            });
        }
        if buf.get(next..next + 2) == Some(b"\r\n".as_slice()) {
            return Some(BlockEnd {
                body: line_end,
                total: next + 2,
            });
        }
        i = next;
    }
    None
}

fn parse(block: &str) -> SseEvent {
    let mut event = SseEvent::default();
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "data" => data.push(value),
            "event" => event.event = Some(value.to_owned()),
            "id" => event.id = Some(value.to_owned()),
            _ => {}
        }
    }
    event.data = data.join("\n");
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &[u8] = b": keep-alive\n\nevent: snapshot\nid: 7\ndata: {\"a\":1}\n\n\
        event: node-up\r\ndata: one\r\ndata: two\r\n\r\n: ping\n\n";

    fn all(d: &mut SseDecoder) -> Vec<SseEvent> {
        std::iter::from_fn(|| d.next_event().unwrap()).collect()
    }

    #[test]
    fn events_come_whole_however_the_stream_is_split() {
        let want = vec![
            SseEvent {
                event: Some("snapshot".into()),
                id: Some("7".into()),
                data: "{\"a\":1}".into(),
            },
            SseEvent {
                event: Some("node-up".into()),
                id: None,
                data: "one\ntwo".into(),
            },
        ];
        for split in 1..STREAM.len() {
            let mut d = SseDecoder::new();
            let mut got = Vec::new();
            for piece in STREAM.chunks(split) {
                d.feed(piece);
                got.extend(all(&mut d));
            }
            assert_eq!(got, want, "pieces of {split}");
        }
    }

    #[test]
    fn an_endless_event_is_an_error() {
        let mut d = SseDecoder::new();
        d.feed(&vec![b'x'; MAX_EVENT + 1]);
        assert_eq!(d.next_event(), Err(SseTooLong));
    }
}
