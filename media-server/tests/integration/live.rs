//! Live channels (`docs/live.md`) against the real binary: ICY framing and titles, plain audio,
//! ffprobe as a real peer, a stalled listener cut off, relays through an upstream's death.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use grid_proto::icy::{Decoder, IcyReply, Item, Protocol};
use grid_proto::live::{ChannelStats, SourceState};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helper::{
    DEADLINE, Live, METAINT, Server, Tags, make_mp3, stats, wait_source, wait_until,
};

/// A listener reading with the ICY decoder.
pub(crate) struct Listener {
    socket: TcpStream,
    decoder: Decoder,
    /// Audio bytes received.
    audio: usize,
    /// The audio itself, when recording.
    pub(crate) recorded: Option<Vec<u8>>,
}

/// Sends an ICY `GET path` from a socket with a tiny receive buffer, to be left unread: a
/// listener the server must cut off.
pub(crate) async fn stalled_listener(server: &Server, path: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(server.addr.parse().unwrap()).await.unwrap();
    let request = format!("GET {path} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n");
    stalled.write_all(request.as_bytes()).await.unwrap();
    stalled
}

impl Listener {
    /// `GET path` as `HTTP/1.0` with `Icy-MetaData: 1` (or plain `HTTP/1.1` without it).
    pub(crate) async fn connect(server: &Server, path: &str, icy: bool) -> (Self, IcyReply) {
        let mut socket = TcpStream::connect(&server.addr).await.unwrap();
        let request = if icy {
            format!("GET {path} HTTP/1.0\r\nHost: x\r\nIcy-MetaData: 1\r\n\r\n")
        } else {
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
        };
        socket.write_all(request.as_bytes()).await.unwrap();
        let mut listener = Listener {
            socket,
            decoder: Decoder::reply(),
            audio: 0,
            recorded: None,
        };
        let Item::Reply(reply) = listener.next().await.expect("a reply") else {
            panic!("not a reply first")
        };
        (listener, reply)
    }

    /// The next item; `None` at the end of the stream.
    async fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.decoder.next().unwrap() {
                if let Item::Audio { data, .. } = &item {
                    self.audio += data.len();
                    if let Some(r) = &mut self.recorded {
                        r.extend_from_slice(data);
                    }
                }
                return Some(item);
            }
            let read = tokio::time::timeout(DEADLINE, self.socket.read_buf(self.decoder.input()))
                .await
                .expect("the stream stalled");
            match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads until `title` arrives in a block; returns the segments read on the way.
    pub(crate) async fn until_title(&mut self, title: &str) -> u64 {
        let deadline = Instant::now() + DEADLINE;
        let mut segments = 0;
        while Instant::now() < deadline {
            match self.next().await {
                Some(Item::Metadata { metadata, .. }) => {
                    segments += 1;
                    if metadata.and_then(|m| m.stream_title).as_deref() == Some(title) {
                        return segments;
                    }
                }
                Some(_) => {}
                None => panic!("the stream ended before '{title}'"),
            }
        }
        panic!("no '{title}' in time")
    }

    /// Reads until a block with a title arrives.
    pub(crate) async fn until_some_title(&mut self) {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            match self.next().await {
                Some(Item::Metadata {
                    metadata: Some(m), ..
                }) if m.stream_title.as_deref().is_some_and(|t| !t.is_empty()) => return,
                Some(_) => {}
                None => panic!("the stream ended before a title"),
            }
        }
        panic!("no title in time")
    }

    /// Reads for `how_long`; returns the audio bytes read meanwhile.
    pub(crate) async fn read_for(&mut self, how_long: Duration) -> usize {
        let before = self.audio;
        let until = Instant::now() + how_long;
        while Instant::now() < until {
            if tokio::time::timeout(until - Instant::now(), self.next())
                .await
                .is_ok_and(|item| item.is_none())
            {
                panic!("the stream ended");
            }
        }
        self.audio - before
    }
}

#[tokio::test]
async fn icy_framing_carries_the_titles_and_changes_them_with_the_track() {
    let live = Live::new("");
    let server = live.start().await;
    let (mut l, reply) = Listener::connect(&server, "/live/test", true).await;
    assert_eq!((reply.protocol, reply.status), (Protocol::Icy, 200));
    assert_eq!(reply.metaint().unwrap(), NonZeroUsize::new(METAINT));
    assert_eq!(reply.name(), Some("test"));
    assert_eq!(reply.genre(), Some("Testing"));
    assert_eq!(reply.header("icy-description"), Some("A test"));
    assert!(matches!(reply.bitrate(), Some(128..=130)), "{reply:?}");
    assert_eq!(reply.content_type(), Some("audio/mpeg"));

    // Every block carries the current title; the first one comes after metaint bytes.
    let mut segment_audio = 0;
    let mut blocks = Vec::new();
    while blocks.len() < 3 {
        match l.next().await.unwrap() {
            Item::Audio { data, .. } => segment_audio += data.len(),
            Item::Metadata { metadata, .. } => {
                assert_eq!(segment_audio, METAINT);
                segment_audio = 0;
                blocks.push(metadata.unwrap().stream_title.unwrap());
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(
        blocks
            .iter()
            .all(|t| t == "Artist A - One" || t == "Artist A - Two"),
        "{blocks:?}"
    );
    // The title changes with the track, whichever comes first.
    let other = if blocks[2] == "Artist A - One" {
        "Artist A - Two"
    } else {
        "Artist A - One"
    };
    l.until_title(other).await;
    l.until_title(&blocks[2]).await;

    let s = stats(&server, "test").await;
    assert_eq!((s.listeners, s.joins, s.metaint), (1, 1, METAINT as u32));
    assert!(s.bytes_out > (3 * METAINT) as u64, "{s:?}");
    assert!(s.source.segments >= 3, "{s:?}");
    assert_eq!(s.source.state, SourceState::Playing);
    let all: Vec<ChannelStats> = server.get("/v1/channels").await.json().await.unwrap();
    assert_eq!(all.len(), 1);
    server.assert_logged("test: now 'Artist A - ");

    // Unknown channels are a 404.
    assert_eq!(server.raw_status("/live/nope"), 404);
    let missing = server.get("/v1/channels/nope").await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn plain_listeners_get_frame_aligned_audio_without_blocks() {
    let live = Live::new("");
    let server = live.start().await;
    let (mut l, reply) = Listener::connect(&server, "/live/test", false).await;
    assert_eq!((reply.protocol, reply.status), (Protocol::Http11, 200));
    assert_eq!(reply.metaint().unwrap(), None);
    let mut body = Vec::new();
    while body.len() < 4 * METAINT {
        match l.next().await.unwrap() {
            Item::Audio { data, .. } => body.extend_from_slice(&data),
            other => panic!("{other:?}"),
        }
    }
    // An MP3 frame first (128 kbit/s, 44.1 kHz, padded or not), and no metadata anywhere.
    assert_eq!(
        [body[0], body[1], body[2] & !0x02],
        [0xFF, 0xFB, 0x90],
        "{:x?}",
        &body[..4]
    );
    assert!(!body.windows(11).any(|w| w == b"StreamTitle"));
}

#[tokio::test]
async fn ffprobe_reads_the_title() {
    let live = Live::new("");
    let server = live.start().await;
    let url = server.url("/live/test");
    let out = tokio::process::Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "format_tags", &url])
        .kill_on_drop(true)
        .output();
    // ffprobe reads several seconds of the live stream, at real time, before it prints: on a
    // loaded machine that alone can take most of the usual deadline.
    let out = tokio::time::timeout(6 * DEADLINE, out)
        .await
        .expect("ffprobe took too long")
        .expect("ffprobe must be installed (apt install ffmpeg)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("TAG:StreamTitle=Artist A - One")
            || text.contains("TAG:StreamTitle=Artist A - Two"),
        "{text}"
    );
    assert!(text.contains("TAG:icy-genre=Testing"), "{text}");
    // And ffmpeg decodes a few seconds of it without an error.
    let out = tokio::process::Command::new("ffmpeg")
        .args(["-v", "error", "-t", "3", "-i", &url, "-f", "null", "-"])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(DEADLINE, out).await.unwrap().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn a_listener_that_stops_reading_is_cut_off_and_the_others_go_on() {
    let live = Live::new("");
    let server = live.start().await;
    let mut stalled = stalled_listener(&server, "/live/test").await;
    let (mut reader, _) = Listener::connect(&server, "/live/test", true).await;
    let started = Instant::now();
    let deadline = started + 2 * DEADLINE;
    let mut got = 0;
    loop {
        got += reader.read_for(Duration::from_millis(500)).await;
        let s = stats(&server, "test").await;
        if s.cut_offs == 1 {
            assert_eq!(s.listeners, 1);
            break;
        }
        assert!(Instant::now() < deadline, "never cut off: {s:?}");
    }
    // The channel runs on the wall clock at 16 KB/s: the reader got its share meanwhile (half of
    // it, so a loaded machine's late ticks do not count against it), not held up by the other.
    let due = 16_000.0 * started.elapsed().as_secs_f64() / 2.0;
    assert!(got as f64 > due, "{got} bytes, {due} due");
    server.assert_logged("test: 1 listener cut off");
    // The stalled socket was closed: reading it drains to its end.
    let mut sink = vec![0u8; 1 << 16];
    let end = tokio::time::timeout(DEADLINE, async {
        loop {
            match stalled.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    });
    end.await
        .expect("the cut-off listener's socket is still open");
}

#[tokio::test]
async fn a_relay_follows_its_upstream_and_plays_silence_while_it_is_gone() {
    let live = Live::new("");
    let mut upstream = live.start().await;
    let upstream_addr = upstream.addr.clone();
    let relay = live.start_relay(&upstream_addr, 3000).await;
    wait_source(&relay, "relay", SourceState::Playing).await;
    let (mut l, reply) = Listener::connect(&relay, "/live/relay", true).await;
    assert_eq!(reply.metaint().unwrap(), NonZeroUsize::new(3000));
    // The upstream's titles, as its tracks change.
    l.until_title("Artist A - One").await;
    l.until_title("Artist A - Two").await;
    let s = stats(&relay, "relay").await;
    assert!(
        s.source.segments > 0 && s.source.gaps == 0 && s.source.duplicates == 0,
        "{s:?}"
    );
    assert_eq!(
        s.source.upstream,
        Some(format!("http://{upstream_addr}/live/test"))
    );
    assert_eq!(s.title, "Artist A - Two");

    // The upstream dies: the listener keeps receiving (silence) while the relay reconnects.
    upstream.kill_hard();
    wait_source(&relay, "relay", SourceState::Reconnecting).await;
    let got = l.read_for(Duration::from_millis(2500)).await;
    assert!(got > 20_000, "{got} bytes in 2.5 s of silence");
    // Back on the same port: the relay reconnects and the titles flow again.
    let upstream = live.start_at(&upstream_addr).await;
    wait_until("the relay to reconnect", || async {
        let s = stats(&relay, "relay").await;
        s.source.state == SourceState::Playing && s.source.reconnects >= 1
    })
    .await;
    l.until_title("Artist A - One").await;
    relay.assert_logged("relay: relay reconnected to");
    drop(upstream);
}

/// Reads `n` audio bytes from a plain listener.
async fn audio_of(l: &mut Listener, n: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < n {
        match l.next().await.expect("the stream ended") {
            Item::Audio { data, .. } => body.extend_from_slice(&data),
            other => panic!("{other:?}"),
        }
    }
    body
}

#[tokio::test]
async fn replicas_play_the_same_audio_at_the_same_time() {
    // The schedule is the wall clock's: two servers of one library, the second started once the
    // first has played a while, play the same frames at the same time, so a render failing over
    // between them finds the audio it was hearing. One 8 s track: its sweep makes every moment's
    // audio different.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    make_mp3(
        &dir.path().join("lib/sweep.mp3"),
        8.0,
        false,
        &Tags {
            title: Some("Sweep"),
            artist: Some("Artist"),
            album: Some("Album"),
        },
    );
    let channels = dir.path().join("channels.toml");
    std::fs::write(&channels, "[[channel]]\nname = \"sweep\"\nburst_ms = 250\n").unwrap();
    let lib = dir.path().join("lib");
    let args = ["--channels", channels.to_str().unwrap()];
    let a = Server::start(&lib, &args).await;
    let deadline = Instant::now() + DEADLINE;
    while stats(&a, "sweep").await.uptime_ms < 3_000 {
        assert!(Instant::now() < deadline, "A's channel does not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = Server::start(&lib, &args).await;
    let (mut la, _) = Listener::connect(&a, "/live/sweep", false).await;
    let (mut lb, _) = Listener::connect(&b, "/live/sweep", false).await;
    let from_a = audio_of(&mut la, 32_000).await;
    let from_b = audio_of(&mut lb, 32_000).await;
    let window = &from_a[16_000..20_000];
    assert!(
        from_b.windows(window.len()).any(|w| w == window),
        "the replicas play different moments of the track"
    );
}
