//! Property tests of the ICY codec, and a cross-check against an independent parser (the
//! `icy-metadata` crate).

use std::io::{Cursor, Read};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use grid_proto::icy::{
    self, Decoder, Framer, IcyError, IcyReply, IcyRequest, Item, Limits, Metadata, Protocol,
    encode_metadata, encode_reply, encode_request, encode_segment,
};
use proptest::collection::vec;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Strategies

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Icy),
        Just(Protocol::Http10),
        Just(Protocol::Http11)
    ]
}

/// Header values: printable, some non-ASCII, no CR/LF, no surrounding blanks (the parser trims).
fn header_value() -> impl Strategy<Value = String> {
    "[ -~éñü€音]{0,24}".prop_map(|s| s.trim().to_string())
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    vec(("[A-Za-z][A-Za-z0-9-]{0,15}", header_value()), 0..8).prop_map(|hs| {
        hs.into_iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("icy-metaint"))
            .collect()
    })
}

fn request() -> impl Strategy<Value = IcyRequest> {
    (
        "GET|HEAD|SOURCE|[A-Z]{1,7}",
        "/[A-Za-z0-9/._~%-]{0,30}",
        protocol(),
        headers(),
    )
        .prop_map(|(method, path, protocol, headers)| IcyRequest {
            method,
            path,
            protocol,
            headers,
        })
}

/// Whether the parser would read `value` as ending early: a `';` followed by the next field
/// (`Key='`, whose quote may be the one closing the value).
fn ambiguous(value: &str) -> bool {
    let value = format!("{value}'");
    value.match_indices("';").any(|(i, _)| {
        let tail = value[i + 2..].trim_start_matches([' ', '\t', '\r', '\n']);
        let key = tail
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
            .count();
        key > 0 && tail[key..].starts_with("='")
    })
}

/// Titles: quotes, semicolons, equals signs, blanks, non-ASCII, empty.
fn title() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 '=;:/.éö😀音-]{0,40}".prop_filter("ambiguous title", |t| !ambiguous(t))
}

fn metadata() -> impl Strategy<Value = Metadata> {
    (
        proptest::option::of(title()),
        proptest::option::of(title()),
        vec(("[A-Za-z][A-Za-z0-9_]{0,8}", title()), 0..3),
    )
        .prop_map(|(stream_title, stream_url, other)| Metadata {
            stream_title,
            stream_url,
            other: other
                .into_iter()
                .filter(|(k, _)| {
                    !k.eq_ignore_ascii_case("StreamTitle") && !k.eq_ignore_ascii_case("StreamUrl")
                })
                .collect(),
        })
}

/// Segments: each its audio and its metadata.
type Segments = Vec<(Vec<u8>, Option<Metadata>)>;

/// A reply with `icy-metaint`, its segments, and a last partial interval of audio.
#[derive(Debug, Clone)]
struct Stream {
    reply: IcyReply,
    metaint: usize,
    segments: Segments,
    tail: Vec<u8>,
}

impl Stream {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_reply(&self.reply, &mut out);
        for (audio, meta) in &self.segments {
            encode_segment(audio, meta.as_ref(), &mut out).unwrap();
        }
        out.extend_from_slice(&self.tail);
        out
    }

    fn body(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (audio, meta) in &self.segments {
            encode_segment(audio, meta.as_ref(), &mut out).unwrap();
        }
        out.extend_from_slice(&self.tail);
        out
    }
}

fn stream() -> impl Strategy<Value = Stream> {
    (protocol(), "[ -~]{0,12}", headers(), 1usize..48).prop_flat_map(
        |(protocol, reason, headers, metaint)| {
            let segment = (vec(any::<u8>(), metaint), proptest::option::of(metadata()));
            (vec(segment, 0..6), vec(any::<u8>(), 0..metaint)).prop_map(move |(segments, tail)| {
                let mut reply = IcyReply {
                    protocol,
                    status: 200,
                    reason: reason.clone(),
                    headers: headers.clone(),
                };
                reply
                    .headers
                    .push(("icy-metaint".into(), metaint.to_string()));
                Stream {
                    reply,
                    metaint,
                    segments,
                    tail,
                }
            })
        },
    )
}

/// Cut points into a stream of `len` bytes.
fn cuts(len: usize, points: &[prop::sample::Index]) -> Vec<usize> {
    let mut cuts: Vec<usize> = points.iter().map(|p| p.index(len + 1)).collect();
    cuts.sort_unstable();
    cuts.push(len);
    cuts
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Feeds `input` cut at `cuts`, taking every item after each piece.
fn decode(
    mut d: Decoder,
    input: &[u8],
    cuts: &[usize],
) -> (Vec<Item>, Result<(), IcyError>, Decoder) {
    let mut items = Vec::new();
    let mut from = 0;
    for &to in cuts {
        d.feed(&input[from..to]);
        from = to;
        loop {
            match d.next() {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                Err(e) => return (items, Err(e), d),
            }
        }
    }
    (items, Ok(()), d)
}

/// Joins the audio pieces of each segment, so that items of different splits compare.
fn normalise(items: Vec<Item>) -> Vec<Item> {
    let mut out = Vec::new();
    for item in items {
        crate::icy_fuzz::push(&mut out, item);
    }
    out
}

/// What decoding a stream should give.
fn expected(s: &Stream) -> Vec<Item> {
    let mut items = vec![Item::Reply(s.reply.clone())];
    for (n, (audio, meta)) in s.segments.iter().enumerate() {
        let segment = n as u64;
        if !audio.is_empty() {
            items.push(Item::Audio {
                segment,
                data: Bytes::from(audio.clone()),
            });
        }
        let metadata = meta.clone().filter(|m| !m.is_empty());
        items.push(Item::Metadata { segment, metadata });
    }
    if !s.tail.is_empty() {
        items.push(Item::Audio {
            segment: s.segments.len() as u64,
            data: Bytes::from(s.tail.clone()),
        });
    }
    items
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Encode then parse gives back the input, however the bytes are split.
    #[test]
    fn stream_round_trips_in_any_split(s in stream(), points in vec(any::<prop::sample::Index>(), 0..12)) {
        let bytes = s.encode();
        let (whole, r, _) = decode(Decoder::reply(), &bytes, &[bytes.len()]);
        prop_assert_eq!(r, Ok(()));
        let whole = normalise(whole);
        prop_assert_eq!(&whole, &expected(&s));
        let (split, r, d) = decode(Decoder::reply(), &bytes, &cuts(bytes.len(), &points));
        prop_assert_eq!(r, Ok(()));
        prop_assert_eq!(normalise(split), whole);
        prop_assert_eq!(d.segment(), s.segments.len() as u64);
        prop_assert!(d.rest().is_empty());
    }

    /// A body alone, byte by byte.
    #[test]
    fn body_byte_by_byte(s in stream()) {
        let body = s.body();
        let cuts: Vec<usize> = (1..=body.len()).collect();
        let (items, r, _) = decode(Decoder::body(NonZeroUsize::new(s.metaint)), &body, &cuts);
        prop_assert_eq!(r, Ok(()));
        prop_assert_eq!(normalise(items), expected(&s)[1..].to_vec());
    }

    /// Requests round-trip in any split, and what follows the head is left in the decoder.
    #[test]
    fn request_round_trips_in_any_split(
        req in request(),
        trailer in vec(any::<u8>(), 0..16),
        points in vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let mut bytes = Vec::new();
        encode_request(&req, &mut bytes);
        let head_len = bytes.len();
        bytes.extend_from_slice(&trailer);
        let (items, r, d) = decode(Decoder::request(), &bytes, &cuts(bytes.len(), &points));
        prop_assert_eq!(r, Ok(()));
        prop_assert_eq!(items, vec![Item::Request(req.clone())]);
        prop_assert_eq!(d.rest(), &bytes[head_len..]);

        // Incremental parsing: feed the same pieces to continuations.
        let mut outcome = icy::request(&[]);
        let mut from = 0;
        for to in cuts(head_len, &points) {
            outcome = match outcome {
                icy::Outcome::More(k) => k.resume(&bytes[from..to]),
                done => done,
            };
            from = to;
        }
        match outcome {
            icy::Outcome::Parsed(parsed, _) => prop_assert_eq!(parsed, req),
            other => prop_assert!(false, "not parsed: {other:?}"),
        }
    }

    /// A metadata block round-trips exactly (text and padding).
    #[test]
    fn metadata_round_trips(m in metadata()) {
        let block = encode_metadata(&m).unwrap();
        prop_assert_eq!(block.len(), 1 + usize::from(block[0]) * 16);
        prop_assert!(usize::from(block[0]) * 16 - m.text_len() < 16);
        let mut d = Decoder::body(NonZeroUsize::new(1));
        d.feed(b"x");
        d.feed(&block);
        let audio_first = matches!(d.next(), Ok(Some(Item::Audio { .. })));
        prop_assert!(audio_first);
        let want = Some(m).filter(|m| !m.is_empty());
        prop_assert_eq!(d.next(), Ok(Some(Item::Metadata { segment: 0, metadata: want })));
    }

    /// The framer's output for audio in any pieces is the encoding of whole segments.
    #[test]
    fn framer_matches_encode_segment(
        metaint in 1usize..40,
        audio in vec(any::<u8>(), 0..400),
        points in vec(any::<prop::sample::Index>(), 0..10),
        title in title(),
    ) {
        let block = encode_metadata(&Metadata::title(title.clone())).unwrap();
        let mut framer = Framer::new(NonZeroUsize::new(metaint).unwrap());
        framer.set_metadata(block);
        let mut framed = Vec::new();
        let mut from = 0;
        for to in cuts(audio.len(), &points) {
            framer.push(&Bytes::copy_from_slice(&audio[from..to]), |b| framed.extend_from_slice(&b));
            from = to;
        }
        let mut want = Vec::new();
        let mut chunks = audio.chunks_exact(metaint);
        for (i, chunk) in chunks.by_ref().enumerate() {
            let meta = (i == 0).then(|| Metadata::title(title.clone()));
            encode_segment(chunk, meta.as_ref(), &mut want).unwrap();
        }
        want.extend_from_slice(chunks.remainder());
        prop_assert_eq!(framed, want);
    }

    /// Random bytes never panic, in any mode and split, and the decoder holds no more than its
    /// limits (plus the last piece fed) while it waits for more.
    #[test]
    fn random_bytes_never_panic(
        mode in 0u8..4,
        metaint in 1usize..64,
        max_head_bytes in 1usize..256,
        max_headers in 0usize..8,
        bytes in vec(any::<u8>(), 0..2048),
        points in vec(any::<prop::sample::Index>(), 0..16),
    ) {
        let limits = Limits { max_head_bytes, max_headers };
        let mut d = match mode {
            0 => Decoder::request().with_limits(limits),
            1 => Decoder::reply().with_limits(limits),
            2 => Decoder::body(NonZeroUsize::new(metaint)),
            _ => Decoder::reply(),
        };
        let mut from = 0;
        let mut head_done = false;
        for to in cuts(bytes.len(), &points) {
            d.feed(&bytes[from..to]);
            let piece = to - from;
            from = to;
            loop {
                match d.next() {
                    Ok(Some(Item::Request(_))) => head_done = true,
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(_) => return Ok(()),
                }
            }
            if !(mode == 0 && head_done) {
                let bound = limits.max_head_bytes.max(icy::DEFAULT_MAX_HEAD_BYTES).max(4080);
                prop_assert!(d.rest().len() <= bound + piece, "{} buffered", d.rest().len());
            }
        }
    }

    /// Garbage after a valid head: the head still parses the same.
    #[test]
    fn valid_stream_with_corruption_never_panics(s in stream(), flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = s.encode();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let _ = decode(Decoder::reply(), &bytes, &[bytes.len()]);
    }
}

// ---------------------------------------------------------------------------------------------
// Cross-check against the `icy-metadata` crate

/// Our encoded body through `icy_metadata::IcyMetadataReader`: the same audio bytes, and the same
/// titles and URLs.
fn icy_metadata_reads(metaint: usize, segments: &[(Vec<u8>, Option<Metadata>)], tail: &[u8]) {
    let mut body = Vec::new();
    for (audio, meta) in segments {
        encode_segment(audio, meta.as_ref(), &mut body).unwrap();
    }
    body.extend_from_slice(tail);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let mut reader = icy_metadata::IcyMetadataReader::new(
        Cursor::new(body),
        NonZeroUsize::new(metaint),
        move |m| {
            sink.lock().unwrap().push(m.map(|m| {
                (
                    m.stream_title().map(str::to_owned),
                    m.stream_url().map(str::to_owned),
                )
            }))
        },
    );
    // One byte a read: icy-metadata 0.6's reader takes a short read of the inner stream for the
    // end of an interval (and reads past a stream that ends mid-interval), and with a read buffer
    // spanning a boundary writes the next interval's audio over the start of the buffer.
    // Reads that never span a boundary avoid both.
    let mut audio = Vec::new();
    let mut byte = [0u8; 1];
    while reader.read(&mut byte).unwrap() == 1 {
        audio.push(byte[0]);
    }

    let mut want_audio: Vec<u8> = segments.iter().flat_map(|(a, _)| a.clone()).collect();
    want_audio.extend_from_slice(tail);
    assert_eq!(audio, want_audio);
    let want: Vec<_> = segments
        .iter()
        .filter_map(|(_, m)| m.as_ref().filter(|m| !m.is_empty()))
        .map(|m| (m.stream_title.clone(), m.stream_url.clone()))
        .collect();
    let seen: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.clone().expect("icy-metadata failed to parse"))
        .collect();
    assert_eq!(seen, want);
}

/// Metadata that icy-metadata reads as written. Its reading is a heuristic: it knows StreamTitle
/// and StreamUrl only (its recovery of unescaped values assumes no other field), finds them by
/// the first `streamtitle=`/`streamurl=` in the text, and reads a quote next to a `;` or `=`
/// inside a value its own way (`';'='` is an empty title to it). Quotes, semicolons and equals
/// signs apart from each other are fair game.
fn cross_check_metadata() -> impl Strategy<Value = Metadata> {
    (proptest::option::of(title()), proptest::option::of(title()))
        .prop_filter("values icy-metadata reads its own way", |(t, u)| {
            [t, u].iter().all(|v| {
                v.as_deref().is_none_or(|v| {
                    !v.to_lowercase().contains("stream")
                        && !["';", ";'", "='", "'="].iter().any(|p| v.contains(p))
                })
            })
        })
        .prop_map(|(stream_title, stream_url)| Metadata {
            stream_title,
            stream_url,
            other: vec![],
        })
}

fn cross_check_segments() -> impl Strategy<Value = (usize, Segments, Vec<u8>)> {
    (1usize..40).prop_flat_map(|metaint| {
        (
            Just(metaint),
            vec(
                (
                    vec(any::<u8>(), metaint),
                    proptest::option::of(cross_check_metadata()),
                ),
                0..6,
            ),
            vec(any::<u8>(), 0..metaint),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn icy_metadata_crate_reads_our_segments((metaint, segments, tail) in cross_check_segments()) {
        icy_metadata_reads(metaint, &segments, &tail);
    }
}

#[test]
fn icy_metadata_crate_reads_tricky_titles() {
    let titles = [
        "",
        "'",
        "';",
        "Guns N' Roses - Don't Cry",
        "a;b=c",
        "x=';'",
        "Sigur Rós – Hoppípolla 🎵",
        ";;",
    ];
    let segments: Vec<_> = titles
        .iter()
        .map(|t| {
            (
                vec![7u8; 5],
                Some(Metadata {
                    stream_title: Some(t.to_string()),
                    stream_url: None,
                    other: vec![],
                }),
            )
        })
        .collect();
    icy_metadata_reads(5, &segments, b"12");
    let with_url: Vec<_> = titles
        .iter()
        .map(|t| {
            let m = Metadata {
                stream_title: Some(t.to_string()),
                stream_url: Some(format!("http://x/{t}")),
                other: vec![],
            };
            (vec![1u8; 3], Some(m))
        })
        .collect();
    icy_metadata_reads(3, &with_url, b"");
}

/// The reply headers we parse, handed to `icy_metadata::IcyHeaders`, read the same.
#[test]
fn icy_metadata_crate_reads_our_reply_headers() {
    let reply = IcyReply::icy_ok()
        .with_header("icy-notice1", "<BR>This stream requires Winamp<BR>")
        .with_header("icy-name", "Spotifice Jazz")
        .with_header("icy-genre", "Jazz")
        .with_header("icy-url", "http://localhost/")
        .with_header("content-type", "audio/mpeg")
        .with_header("icy-pub", "1")
        .with_header("icy-metaint", "8192")
        .with_header("icy-br", "128");
    let mut bytes = Vec::new();
    encode_reply(&reply, &mut bytes);
    let icy::Outcome::Parsed(parsed, body) = icy::reply(&bytes) else {
        panic!("not parsed")
    };
    assert_eq!(parsed, reply);
    assert_eq!(body.metaint(), NonZeroUsize::new(8192));

    let mut map = http::HeaderMap::new();
    for (name, value) in &parsed.headers {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let theirs = icy_metadata::IcyHeaders::parse_from_headers(&map);
    assert_eq!(theirs.name(), parsed.name());
    assert_eq!(theirs.genre(), &[parsed.genre().unwrap().to_string()]);
    assert_eq!(theirs.bitrate(), parsed.bitrate());
    assert_eq!(theirs.metadata_interval(), parsed.metaint().unwrap());
    assert_eq!(theirs.station_url(), parsed.header("icy-url"));
    assert_eq!(theirs.public(), Some(true));
}

/// The `icy-metadata` crate's own fixtures for values with stray quotes and semicolons
/// (its `handle_unescaped_values` test), read by ours.
#[test]
fn icy_metadata_crate_fixtures() {
    let cases: &[(&str, Option<&str>, Option<&str>)] = &[
        ("StreamTitle='stream-t;itle';", Some("stream-t;itle"), None),
        ("StreamTitle=';stream-title';", Some(";stream-title"), None),
        (
            "StreamTitle=';stream-title;';",
            Some(";stream-title;"),
            None,
        ),
        (
            "StreamTitle=';stream-;title;';",
            Some(";stream-;title;"),
            None,
        ),
        (
            "StreamTitle=';stre'am-;title;';",
            Some(";stre'am-;title;"),
            None,
        ),
        ("StreamUrl=';stre'am-;url;';", None, Some(";stre'am-;url;")),
        (
            "StreamTitle=';stre'am-;title;';StreamUrl='stre'am=url';",
            Some(";stre'am-;title;"),
            Some("stre'am=url"),
        ),
        (
            "StreamTitle=';stre'am-;title;';StreamUrl='stre;am=url';",
            Some(";stre'am-;title;"),
            Some("stre;am=url"),
        ),
        (
            "StreamUrl='stre;am=url';StreamTitle=';stre'am-;title;';",
            Some(";stre'am-;title;"),
            Some("stre;am=url"),
        ),
        (
            "StreamTitle='streamtitle';StreamUrl='stre;am=url';",
            Some("streamtitle"),
            Some("stre;am=url"),
        ),
        (
            "StreamTitle=';stre'am-;title;';StreamUrl='stre;am=url'",
            Some(";stre'am-;title;"),
            Some("stre;am=url"),
        ),
        (
            "ExtraField=extra;StreamTitle=';stre'am-;title;';StreamUrl='stre'am=url';",
            Some(";stre'am-;title;"),
            Some("stre'am=url"),
        ),
    ];
    for &(text, title, url) in cases {
        let m = Metadata::parse(text.as_bytes());
        assert_eq!(m.stream_title.as_deref(), title, "{text}");
        assert_eq!(m.stream_url.as_deref(), url, "{text}");
        // And theirs agrees on the text as we pad it in a block.
        let theirs: icy_metadata::IcyMetadata = text.parse().unwrap();
        assert_eq!(
            (theirs.stream_title(), theirs.stream_url()),
            (title, url),
            "{text}"
        );
    }
}

/// Hand-written captures of the two reply styles.
#[test]
fn real_world_replies() {
    // SHOUTcast v1: `ICY 200 OK`, bare header names, a Latin-1 title.
    let mut shoutcast = b"ICY 200 OK\r\nicy-notice1:<BR>This stream requires <a href=\"http://www.winamp.com/\">Winamp</a><BR>\r\nicy-notice2:SHOUTcast Distributed Network Audio Server/Linux v1.9.8<BR>\r\nicy-name:Radio Caf\xe9\r\nicy-genre:Jazz\r\nicy-url:http://localhost\r\ncontent-type:audio/mpeg\r\nicy-pub:1\r\nicy-metaint:4\r\nicy-br:128\r\n\r\n".to_vec();
    shoutcast.extend_from_slice(b"abcd\x02StreamTitle='Bj\xf6rk - J\xf3ga';");
    shoutcast.resize(shoutcast.len() + 32 - 27, 0);
    shoutcast.extend_from_slice(b"efgh\x00ij");
    let (items, r, _) = decode(Decoder::reply(), &shoutcast, &[shoutcast.len()]);
    assert_eq!(r, Ok(()));
    let Item::Reply(reply) = &items[0] else {
        panic!("no reply")
    };
    assert_eq!(reply.protocol, Protocol::Icy);
    assert_eq!(reply.name(), Some("Radio Café"));
    assert_eq!(reply.content_type(), Some("audio/mpeg"));
    assert_eq!(reply.bitrate(), Some(128));
    assert_eq!(
        items[2],
        Item::Metadata {
            segment: 0,
            metadata: Some(Metadata::title("Björk - Jóga"))
        }
    );
    assert_eq!(
        items[4],
        Item::Metadata {
            segment: 1,
            metadata: None
        }
    );
    assert_eq!(
        items[5],
        Item::Audio {
            segment: 2,
            data: Bytes::from_static(b"ij")
        }
    );

    // Icecast 2: `HTTP/1.0 200 OK`, more headers, UTF-8.
    let mut icecast = "HTTP/1.0 200 OK\r\nServer: Icecast 2.4.4\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: audio/mpeg\r\nCache-Control: no-cache, no-store\r\nExpires: Mon, 26 Jul 1997 05:00:00 GMT\r\nPragma: no-cache\r\nicy-br:128\r\nice-audio-info: channels=2;samplerate=44100;bitrate=128\r\nicy-description:Test\r\nicy-genre:Various\r\nicy-name:Test Stream\r\nicy-pub:0\r\nicy-metaint:16000\r\n\r\n".as_bytes().to_vec();
    icecast.extend(std::iter::repeat_n(0xffu8, 16000));
    let block = encode_metadata(&Metadata::title("Sigur Rós - Hoppípolla")).unwrap();
    icecast.extend_from_slice(&block);
    let (items, r, _) = decode(Decoder::reply(), &icecast, &[100, 5000, icecast.len()]);
    assert_eq!(r, Ok(()));
    let items = normalise(items);
    let Item::Reply(reply) = &items[0] else {
        panic!("no reply")
    };
    assert_eq!(
        (reply.protocol, reply.status, reply.reason.as_str()),
        (Protocol::Http10, 200, "OK")
    );
    assert_eq!(reply.header("CONTENT-TYPE"), Some("audio/mpeg"));
    assert!(matches!(&items[1], Item::Audio { segment: 0, data } if data.len() == 16000));
    assert_eq!(
        items[2],
        Item::Metadata {
            segment: 0,
            metadata: Some(Metadata::title("Sigur Rós - Hoppípolla"))
        }
    );
}

/// A player's request, as VLC and mpv send it.
#[test]
fn player_requests() {
    let vlc = b"GET /live/jazz HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\nAccept-Language: en_US\r\nUser-Agent: VLC/3.0.18 LibVLC/3.0.18\r\nRange: bytes=0-\r\nIcy-MetaData: 1\r\n\r\n";
    let icy::Outcome::Parsed(req, rest) = icy::request(vlc) else {
        panic!("not parsed")
    };
    assert_eq!(
        (req.method.as_str(), req.path.as_str(), req.protocol),
        ("GET", "/live/jazz", Protocol::Http11)
    );
    assert!(req.wants_metadata());
    assert!(rest.into_rest().is_empty());

    let curl = b"GET /live/jazz HTTP/1.1\nHost: x\n\n";
    let icy::Outcome::Parsed(req, _) = icy::request(curl) else {
        panic!("not parsed")
    };
    assert!(!req.wants_metadata());

    let mut seed = Vec::new();
    icy::send_request(&IcyRequest::get("192.99.62.212:9904", "/"), |b| {
        seed.extend_from_slice(b)
    });
    assert!(seed.starts_with(b"GET / HTTP/1.0\r\nHost: 192.99.62.212:9904\r\n"));
    assert!(seed.ends_with(b"Icy-MetaData: 1\r\n\r\n"));
}
