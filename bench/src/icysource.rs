//! A tiny ICY source, for `icyload`'s tests and as a stand-in server (`icysource`) that measures
//! the generator alone: a channel of pseudo-random "audio" at 128 kbit/s (metaint 16000, a title
//! block in every segment, the title changing every five segments), sent in ticks from a clock
//! shared by every listener, starting at the segment boundary before the live position (a burst of
//! up to one second). Variants stall, close, answer 404 or frame the body as HTTP/1.1 chunks; a
//! source served with a delay stands in for a relay (the same bytes, later).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use grid_proto::icy::{self, Decoder, IcyReply, Item, Metadata, Protocol};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Audio bytes between blocks (one second at 128 kbit/s).
pub const METAINT: usize = 16_000;
const SEGMENTS: usize = 20;

/// How every stream of a source behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Streams in real time.
    Normal,
    /// Sends nothing for `pause` once, `after` into each stream.
    Stall {
        /// Into the stream.
        after: Duration,
        /// Silence.
        pause: Duration,
    },
    /// Closes each stream after that long.
    Close(Duration),
    /// Answers 404.
    NotFound,
    /// HTTP/1.1 chunked framing around the ICY body.
    Chunked,
}

/// The channel: 20 segments looped, and the clock every listener follows.
#[derive(Debug)]
pub struct Source {
    body: Vec<u8>,
    seg_len: usize,
    start: Instant,
}

impl Source {
    /// A channel starting now.
    pub fn new() -> Arc<Self> {
        let mut body = Vec::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut seg_len = 0;
        for s in 0..SEGMENTS {
            let audio: Vec<u8> = (0..METAINT)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let meta = Metadata::title(format!("Test Artist - Track {}", s / 5));
            let before = body.len();
            icy::encode_segment(&audio, Some(&meta), &mut body)
                .expect("a short title fits a block");
            seg_len = body.len() - before;
        }
        Arc::new(Source {
            body,
            seg_len,
            start: Instant::now(),
        })
    }

    /// Body bytes sent by now (one segment, 16000 bytes of audio, per second), `delay` late.
    fn live(&self, delay: Duration) -> usize {
        let t = self.start.elapsed().saturating_sub(delay).as_secs_f64();
        (t * self.seg_len as f64) as usize
    }

    /// The body from `from` to `to` (stream positions), as at most two slices of the loop.
    fn slices(&self, from: usize, to: usize) -> [&[u8]; 2] {
        let len = self.body.len();
        if to - from >= len {
            // More than a loop behind: the last loop's worth is enough for a test.
            return self.slices(to - len + 1, to);
        }
        let (a, b) = (from % len, to % len);
        if a <= b {
            [&self.body[a..b], &[]]
        } else {
            [&self.body[a..], &self.body[..b]]
        }
    }
}

/// Serves `src` on `listen` (`127.0.0.1:0` for a free port); returns the bound address. The
/// channel is `/live/test`; every stream writes what is due each `tick`.
pub async fn serve(
    listen: &str,
    src: Arc<Source>,
    mode: Mode,
    delay: Duration,
    tick: Duration,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(stream_to(stream, src.clone(), mode, delay, tick));
                }
                // Out of file descriptors: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    });
    Ok(addr)
}

async fn stream_to(
    mut stream: TcpStream,
    src: Arc<Source>,
    mode: Mode,
    delay: Duration,
    tick: Duration,
) {
    let mut dec = Decoder::request();
    let mut buf = [0u8; 1024];
    let req = loop {
        let Ok(n) = stream.read(&mut buf).await else {
            return;
        };
        if n == 0 {
            return;
        }
        dec.feed(&buf[..n]);
        match dec.next() {
            Ok(Some(Item::Request(r))) => break r,
            Ok(_) => {}
            Err(_) => return,
        }
    };
    let mut head = Vec::new();
    if mode == Mode::NotFound || req.path != "/live/test" || !req.wants_metadata() {
        icy::encode_reply(&IcyReply::new(req.protocol, 404, "Not Found"), &mut head);
        let _ = stream.write_all(&head).await;
        return;
    }
    let mut reply = IcyReply::new(Protocol::Http11, 200, "OK")
        .with_header("content-type", "audio/mpeg")
        .with_header("icy-br", "128")
        .with_header("icy-name", "icysource")
        .with_header("icy-metaint", &METAINT.to_string());
    if mode == Mode::Chunked {
        reply = reply.with_header("transfer-encoding", "chunked");
    }
    icy::encode_reply(&reply, &mut head);
    if stream.write_all(&head).await.is_err() {
        return;
    }
    let joined = Instant::now();
    let live = src.live(delay);
    let mut sent = live - live % src.seg_len;
    let mut stalled = false;
    loop {
        let to = src.live(delay);
        if to > sent {
            let size = to - sent;
            let [a, b] = src.slices(sent, to);
            sent = to;
            let ok = if mode == Mode::Chunked {
                let mut framed = format!("{size:x}\r\n").into_bytes();
                framed.extend_from_slice(a);
                framed.extend_from_slice(b);
                framed.extend_from_slice(b"\r\n");
                stream.write_all(&framed).await.is_ok()
            } else {
                stream.write_all(a).await.is_ok() && stream.write_all(b).await.is_ok()
            };
            if !ok {
                return;
            }
        }
        match mode {
            Mode::Stall { after, pause } if !stalled && joined.elapsed() > after => {
                stalled = true;
                tokio::time::sleep(pause).await;
            }
            Mode::Close(after) if joined.elapsed() > after => return,
            _ => tokio::time::sleep(tick).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_wrap_around_the_loop() {
        let src = Source::new();
        let len = src.body.len();
        let [a, b] = src.slices(len - 3, len + 2);
        assert_eq!((a.len(), b.len()), (3, 2));
        assert_eq!(a, &src.body[len - 3..]);
        let [a, b] = src.slices(5, 9);
        assert_eq!((a, b.len()), (&src.body[5..9], 0));
    }
}
