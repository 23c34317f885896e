use std::num::NonZeroUsize;

use bytes::Bytes;

use super::*;

fn drain(d: &mut Decoder) -> Vec<Item> {
    let mut items = Vec::new();
    while let Some(item) = d.next().unwrap() {
        items.push(item);
    }
    items
}

#[test]
fn request_examples() {
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
fn reply_example() {
    let Outcome::Parsed(reply, mut data) = reply(b"ICY 200 OK\r\nicy-metaint: 5\r\n\r\n123") else {
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
