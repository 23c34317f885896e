//! Streams of tracks: chunks reassemble the file byte for byte, `/data` bodies too, reopening
//! at an offset continues exactly, bad requests are refused, idle streams are reaped.

use std::time::Duration;

use futures_util::StreamExt;
use grid_proto::media::StreamOpened;

use crate::helper::{Fixture, Server, content_id, read_raw, read_track, wait_until};

/// Reads chunks without an offset until the empty one; checks sizes and `x-offset`.
async fn drain_chunks(server: &Server, render: &str, from: u64) -> Vec<u8> {
    let mut got = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let reply = server.get(&format!("/v1/streams/{render}/chunk")).await;
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()["content-type"], "application/octet-stream");
        let offset: u64 = reply.headers()["x-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(offset, from + got.len() as u64);
        assert!(reply.headers().contains_key("x-track-id"));
        assert!(reply.headers().contains_key("x-track-size"));
        let body = reply.bytes().await.unwrap();
        sizes.push(body.len());
        if body.is_empty() {
            break;
        }
        got.extend_from_slice(&body);
    }
    // 4096 each, the last shorter, then the empty one.
    let (empty, data) = sizes.split_last().unwrap();
    assert_eq!(*empty, 0);
    if let Some((last, full)) = data.split_last() {
        assert!(full.iter().all(|&n| n == 4096), "{sizes:?}");
        assert!(*last > 0 && *last <= 4096, "{sizes:?}");
    }
    got
}

#[tokio::test]
async fn chunks_reassemble_the_file_and_reopening_continues_exactly() {
    let fixture = Fixture::new();
    let server = Server::start(fixture.path(), &[]).await;
    let (content, id) = read_track(&fixture.cbr.0);

    let opened = server.open(&id, "render-1", 0).await;
    assert_eq!(opened.status(), 200);
    let opened: StreamOpened = opened.json().await.unwrap();
    assert_eq!(
        (
            opened.render_id.as_str(),
            opened.offset,
            opened.track.id.as_str()
        ),
        ("render-1", 0, id.as_str())
    );
    assert_eq!(drain_chunks(&server, "render-1", 0).await, content);

    // A failover resumes at a byte offset, on a replaced stream.
    let resume = 123_457u64;
    assert_eq!(server.open(&id, "render-1", resume).await.status(), 200);
    assert_eq!(
        drain_chunks(&server, "render-1", resume).await,
        content[resume as usize..]
    );

    // An explicit offset and size, then the next chunk carries on from there.
    let reply = server
        .get("/v1/streams/render-1/chunk?offset=10&size=100")
        .await;
    assert_eq!(reply.headers()["x-offset"], "10");
    assert_eq!(reply.bytes().await.unwrap(), content[10..110]);
    let reply = server.get("/v1/streams/render-1/chunk?size=5").await;
    assert_eq!(reply.headers()["x-offset"], "110");
    assert_eq!(reply.bytes().await.unwrap(), content[110..115]);
    let end = content.len();
    let reply = server
        .get(&format!("/v1/streams/render-1/chunk?offset={end}"))
        .await;
    assert_eq!(reply.status(), 200);
    assert!(reply.bytes().await.unwrap().is_empty());

    for (query, status) in [
        ("size=0", 400),
        ("size=1048577", 400),
        ("offset=abc", 400),
        (&*format!("offset={}", end + 1), 416),
    ] {
        let reply = server
            .get(&format!("/v1/streams/render-1/chunk?{query}"))
            .await;
        assert_eq!(reply.status(), status, "{query}");
        let error: serde_json::Value = reply.json().await.unwrap();
        assert!(
            error["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{query}: {error}"
        );
    }
    assert_eq!(
        server.open(&id, "render-1", end as u64 + 1).await.status(),
        416
    );
    let unknown = server.get("/v1/streams/nobody/chunk").await;
    assert_eq!(unknown.status(), 404);

    let closed = server.delete("/v1/streams/render-1").await;
    assert_eq!(closed.status(), 200);
    assert_eq!(
        closed.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({})
    );
    let after = server.get("/v1/streams/render-1/chunk").await;
    assert_eq!(after.status(), 404);

    let log = server.log();
    for line in [
        "open_stream: render render-1",
        "reached the end of track",
        "close_stream: render render-1",
    ] {
        assert!(log.contains(line), "{line} not in:\n{log}");
    }
}

#[tokio::test]
async fn data_bodies_reassemble_the_rest_from_an_offset() {
    let fixture = Fixture::new();
    let server = Server::start(fixture.path(), &[]).await;
    let (content, id) = read_track(&fixture.cbr.0);

    for (offset, size) in [
        (0u64, 4096usize),
        (77_777, 4096),
        (5, 65_536),
        (1000, 1 << 20),
        (content.len() as u64, 4096),
    ] {
        assert_eq!(server.open(&id, "r", 0).await.status(), 200);
        let reply = server
            .get(&format!("/v1/streams/r/data?offset={offset}&size={size}"))
            .await;
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()["x-offset"], offset.to_string().as_str());
        assert_eq!(
            reply.headers()["x-track-size"],
            content.len().to_string().as_str()
        );
        assert_eq!(reply.headers()["x-track-id"], id.as_str());
        let mut got = Vec::new();
        let mut body = reply.bytes_stream();
        while let Some(piece) = body.next().await {
            got.extend_from_slice(&piece.unwrap());
        }
        assert_eq!(
            got,
            content[offset as usize..],
            "offset {offset}, size {size}"
        );
        // The body moved the stream to the end: the next chunk is the empty one.
        let next = server.get("/v1/streams/r/chunk").await;
        assert_eq!(
            next.headers()["x-offset"],
            content.len().to_string().as_str()
        );
        assert!(next.bytes().await.unwrap().is_empty());
    }
    // Without an offset, the body starts where the stream stands.
    assert_eq!(server.open(&id, "r", 4242).await.status(), 200);
    let reply = server.get("/v1/streams/r/data").await;
    assert_eq!(reply.headers()["x-offset"], "4242");
    assert_eq!(reply.bytes().await.unwrap(), content[4242..]);
    // A `limit` bounds the body (a render's read-ahead window); windows reassemble the track, and
    // only the one reaching the track's size is its end.
    let mut got = Vec::new();
    while got.len() < content.len() {
        let reply = server
            .get(&format!(
                "/v1/streams/r/data?offset={}&limit=100000",
                got.len()
            ))
            .await;
        assert_eq!(reply.status(), 200);
        let window = reply.bytes().await.unwrap();
        assert_eq!(window.len(), (content.len() - got.len()).min(100_000));
        got.extend_from_slice(&window);
    }
    assert_eq!(got, content);
    let ends = server.log().matches("reached the end of track").count();
    let bad = server.get("/v1/streams/r/data?limit=0").await;
    assert_eq!(bad.status(), 400);
    let past = server
        .get(&format!("/v1/streams/r/data?offset={}", content.len() + 1))
        .await;
    assert_eq!(past.status(), 416);
    let missing = server.get("/v1/streams/nobody/data").await;
    assert_eq!(missing.status(), 404);
    // Five bodies above, the one at 4242, and the last window.
    assert_eq!(
        ends,
        7,
        "one end of track per body that reached it:\n{}",
        server.log()
    );
}

/// How many streams the server holds (`/v1/info`).
async fn open_streams(server: &Server) -> u64 {
    let info: serde_json::Value = server.get("/v1/info").await.json().await.unwrap();
    info["streams"].as_u64().unwrap()
}

/// A server on a fresh fixture that reaps streams idle for `idle_ms`, with the VBR track's
/// stream open for `render`. The fixture is returned to keep its library alive.
async fn one_stream(idle_ms: &str, render: &str) -> (Fixture, Server) {
    let fixture = Fixture::new();
    let server = Server::start(fixture.path(), &["--stream-idle-ms", idle_ms]).await;
    let id = content_id(&fixture.vbr.0);
    assert_eq!(server.open(&id, render, 0).await.status(), 200);
    (fixture, server)
}

#[tokio::test]
async fn idle_streams_are_reaped() {
    let (_fixture, server) = one_stream("300", "gone").await;
    assert_eq!(open_streams(&server).await, 1);
    wait_until("the idle stream to be reaped", || async {
        open_streams(&server).await == 0
    })
    .await;
    let after = server.get("/v1/streams/gone/chunk").await;
    assert_eq!(after.status(), 404);
    server.assert_logged("reaped the stream of render gone");
}

#[tokio::test]
async fn streams_in_use_are_kept() {
    // Margins wide enough for a loaded machine: a chunk every 100 ms, reaped after 1.5 s idle.
    let (_fixture, server) = one_stream("1500", "busy").await;
    let mut ticks = tokio::time::interval(Duration::from_millis(100));
    for _ in 0..40 {
        ticks.tick().await;
        let reply = server.get("/v1/streams/busy/chunk?offset=0&size=1").await;
        assert_eq!(reply.status(), 200, "{}", server.log());
    }
}

/// A `/data` body the client does not read stays open (TCP back-pressure): its stream is in
/// use and is not reaped; replacing the stream cuts that body rather than ending it cleanly.
#[tokio::test]
async fn a_running_body_keeps_its_stream_and_a_replaced_stream_cuts_it() {
    let fixture = Fixture::new();
    // Far more than the socket buffers hold while nobody reads.
    let big = fixture.big_track();
    let (content, id) = read_track(&big);
    let server = Server::start(fixture.path(), &["--stream-idle-ms", "300"]).await;

    assert_eq!(server.open(&id, "slow", 0).await.status(), 200);
    let held = server.stalled_get("/v1/streams/slow/data").await;
    // Four idle periods pass with the body stalled: the stream stays.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let open = open_streams(&server).await;
    assert_eq!(open, 1, "{}", server.log());
    let reply = read_raw(held).await;
    assert!(reply.head.starts_with("HTTP/1.1 200"), "{}", reply.head);
    assert!(reply.clean_end);
    assert!(reply.body == content, "the body differs from the file");
    wait_until("the stream to be reaped once its body ended", || async {
        open_streams(&server).await == 0
    })
    .await;

    assert_eq!(server.open(&id, "slow", 0).await.status(), 200);
    let held = server.stalled_get("/v1/streams/slow/data").await;
    assert_eq!(server.open(&id, "slow", 1000).await.status(), 200);
    let reply = read_raw(held).await;
    assert!(
        !reply.clean_end,
        "the replaced stream's body ended cleanly after {} bytes",
        reply.body.len()
    );
    assert!(reply.body.len() < content.len() && reply.body == content[..reply.body.len()]);
}

/// Every chunk and `/data` reply names the stream's track and its size, so a render whose
/// stream was replaced by another track's (its render id reused) can tell.
#[tokio::test]
async fn replies_name_the_track_so_a_replaced_stream_shows() {
    let fixture = Fixture::new();
    let server = Server::start(fixture.path(), &[]).await;
    let cbr = (
        content_id(&fixture.cbr.0),
        std::fs::metadata(&fixture.cbr.0).unwrap().len(),
    );
    let vbr = (
        content_id(&fixture.vbr.0),
        std::fs::metadata(&fixture.vbr.0).unwrap().len(),
    );
    let headers = |reply: &reqwest::Response| {
        let h = reply.headers();
        (
            h["x-track-id"].to_str().unwrap().to_owned(),
            h["x-track-size"].to_str().unwrap().parse::<u64>().unwrap(),
        )
    };
    for (id, size) in [&cbr, &vbr] {
        assert_eq!(server.open(id, "shared", 0).await.status(), 200);
        for route in ["chunk?size=10", "data?offset=0&limit=10"] {
            let reply = server.get(&format!("/v1/streams/shared/{route}")).await;
            assert_eq!(reply.status(), 200, "{route}");
            assert_eq!(headers(&reply), (id.clone(), *size), "{route}");
            assert_eq!(reply.bytes().await.unwrap().len(), 10, "{route}");
        }
    }
}

/// With `--max-streams 2`, a third render's stream reaps the least recently used one; with
/// both running a `/data` body, it is refused with a 503 until one ends.
#[tokio::test]
async fn the_stream_table_is_bounded() {
    let fixture = Fixture::new();
    let big = fixture.big_track();
    let id = content_id(&big);
    let server = Server::start(fixture.path(), &["--max-streams", "2"]).await;
    let chunk = |render: &'static str| {
        let url = server.url(&format!("/v1/streams/{render}/chunk?size=1"));
        let http = server.http.clone();
        async move { http.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(server.open(&id, "r1", 0).await.status(), 200);
    assert_eq!(server.open(&id, "r2", 0).await.status(), 200);
    assert_eq!(chunk("r1").await, 200);
    // r2 is the least recently used.
    assert_eq!(server.open(&id, "r3", 0).await.status(), 200);
    assert_eq!(chunk("r2").await, 404);
    assert_eq!((chunk("r1").await, chunk("r3").await), (200, 200));
    server.assert_logged("reaped the stream of render r2");
    // Replacing a render's own stream needs no room.
    assert_eq!(server.open(&id, "r3", 10).await.status(), 200);

    // Both streams busy: nothing can be reaped.
    let held1 = server.stalled_get("/v1/streams/r1/data").await;
    let held3 = server.stalled_get("/v1/streams/r3/data").await;
    let refused = server.open(&id, "r4", 0).await;
    assert_eq!(refused.status(), 503);
    let error: serde_json::Value = refused.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("too many open streams (2)")),
        "{error}"
    );
    assert_eq!((chunk("r1").await, chunk("r3").await), (200, 200));
    // Once the bodies are read to their end, their streams are idle again.
    for held in [held1, held3] {
        assert!(read_raw(held).await.clean_end);
    }
    wait_until("room for a stream once the bodies ended", || async {
        server.open(&id, "r4", 0).await.status() == 200
    })
    .await;
}

/// A chunk that cannot be read (the file was truncated under the open stream) is a 500 naming
/// the track, and does not move the stream: once the file is whole again, the next chunk
/// without an offset starts where the last one served ended.
#[tokio::test]
async fn a_failed_chunk_read_is_a_500_and_keeps_the_position() {
    let fixture = Fixture::new();
    let server = Server::start(fixture.path(), &[]).await;
    let path = &fixture.untagged.0;
    let (content, id) = read_track(path);
    assert_eq!(server.open(&id, "r", 0).await.status(), 200);
    let chunk = || async { server.get("/v1/streams/r/chunk?size=100").await };
    let first = chunk().await;
    assert_eq!(first.headers()["x-offset"], "0");
    assert_eq!(first.bytes().await.unwrap(), content[..100]);

    // Same inode, shorter: the open stream's reads past 50 fail.
    std::fs::write(path, &content[..50]).unwrap();
    let failed = chunk().await;
    assert_eq!(failed.status(), 500);
    let error: serde_json::Value = failed.json().await.unwrap();
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains(&id) && e.contains("byte 100")),
        "{error}"
    );

    std::fs::write(path, &content).unwrap();
    let next = chunk().await;
    assert_eq!(next.status(), 200);
    assert_eq!(next.headers()["x-offset"], "100");
    assert_eq!(next.bytes().await.unwrap(), content[100..200]);
}
