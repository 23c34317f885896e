//! A track's audio over HTTP: whole, ranges (206), unsatisfiable ranges (416), HEAD.

use crate::helper::{Fixture, Server, content_id};

/// Sends `request` asking for `range` of the body.
async fn with_range(request: reqwest::RequestBuilder, range: &str) -> reqwest::Response {
    request.header("range", range).send().await.unwrap()
}

/// Opens streams (each holds its track's file open) until the server runs out of file
/// descriptors; returns the refused reply's status and error.
async fn open_until_refused(server: &Server, id: &str) -> (u16, String, usize) {
    for i in 0..1000 {
        let reply = server.open(id, &format!("render-{i}"), 0).await;
        if reply.status() != 200 {
            let status = reply.status().as_u16();
            let body: serde_json::Value = reply.json().await.unwrap();
            return (
                status,
                body["error"].as_str().unwrap_or_default().to_owned(),
                i,
            );
        }
    }
    panic!("1000 streams opened under a limit of 48 descriptors");
}

#[tokio::test]
async fn audio_serves_the_file_and_its_ranges() {
    let fixture = Fixture::new();
    let server = Server::start(fixture.path(), &[]).await;
    let content = std::fs::read(&fixture.cbr.0).unwrap();
    let size = content.len() as u64;
    let url = server.url(&format!("/v1/tracks/{}/audio", content_id(&fixture.cbr.0)));

    let whole = server.http.get(&url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    let headers = whole.headers().clone();
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["content-type"], "audio/mpeg");
    assert_eq!(headers["content-length"], size.to_string().as_str());
    assert_eq!(whole.bytes().await.unwrap(), content);

    for (range, start, end) in [
        ("bytes=0-99".to_owned(), 0, 100),
        (format!("bytes={}-", size - 10), size - 10, size),
        (
            "bytes=-300000".to_owned(),
            size.saturating_sub(300_000),
            size,
        ),
        ("bytes=1000-299999".to_owned(), 1000, 300_000.min(size)),
        (format!("bytes=100-{}", size + 50), 100, size),
    ] {
        let part = with_range(server.http.get(&url), &range).await;
        assert_eq!(part.status(), 206, "{range}");
        assert_eq!(
            part.headers()["content-range"],
            format!("bytes {start}-{}/{size}", end - 1).as_str(),
            "{range}"
        );
        assert_eq!(
            part.headers()["content-length"],
            (end - start).to_string().as_str()
        );
        assert_eq!(
            part.bytes().await.unwrap(),
            content[start as usize..end as usize],
            "{range}"
        );
    }

    for range in [
        format!("bytes={size}-"),
        format!("bytes={}-{}", size + 1, size + 9),
        "bytes=-0".to_owned(),
    ] {
        let refused = with_range(server.http.get(&url), &range).await;
        assert_eq!(refused.status(), 416, "{range}");
        assert_eq!(
            refused.headers()["content-range"],
            format!("bytes */{size}").as_str()
        );
    }

    let head = server.http.head(&url).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(head.headers()["content-length"], size.to_string().as_str());
    assert_eq!(head.headers()["accept-ranges"], "bytes");
    assert!(head.bytes().await.unwrap().is_empty());
    let head = with_range(server.http.head(&url), "bytes=10-19").await;
    assert_eq!(head.status(), 206);
    assert_eq!(head.headers()["content-length"], "10");
}

/// A track whose file was removed or rewritten since the scan is a 404 (logged once, with the
/// advice to rescan); a server out of file descriptors answers 503 naming the track and the
/// error, never a 404 that would tell a render the track does not exist.
#[tokio::test]
async fn stale_tracks_are_404_and_io_failures_are_not() {
    let fixture = Fixture::new();
    let server = Server::start_with_fd_limit(fixture.path(), &[], Some(48)).await;
    let cbr = content_id(&fixture.cbr.0);
    let (status, error, opened) = open_until_refused(&server, &cbr).await;
    assert_eq!(status, 503, "{error}");
    assert!(opened > 0, "no stream opened at all: {error}");
    assert!(
        error.contains(&cbr) && error.contains("cbr.mp3") && error.contains("Too many open files"),
        "{error}"
    );
    let audio = server.get(&format!("/v1/tracks/{cbr}/audio")).await;
    assert_eq!(audio.status(), 503);
    // Closing a stream frees its descriptor: the next open succeeds.
    let closed = server.delete("/v1/streams/render-0").await;
    assert_eq!(closed.status(), 200);
    assert_eq!(server.open(&cbr, "render-0", 0).await.status(), 200);

    // Rewritten and removed files, no rescan: 404s, each track logged once.
    let vbr = content_id(&fixture.vbr.0);
    let untagged = content_id(&fixture.untagged.0);
    for render in 0..opened {
        let _ = server.delete(&format!("/v1/streams/render-{render}")).await;
    }
    std::fs::remove_file(&fixture.vbr.0).unwrap();
    let mut rewritten = std::fs::read(&fixture.untagged.0).unwrap();
    rewritten.extend_from_slice(b"more");
    std::fs::write(&fixture.untagged.0, rewritten).unwrap();
    for id in [&vbr, &untagged] {
        for _ in 0..3 {
            assert_eq!(server.open(id, "r", 0).await.status(), 404);
            let audio = server.get(&format!("/v1/tracks/{id}/audio")).await;
            assert_eq!(audio.status(), 404);
        }
    }
    let log = server.log();
    for (id, why) in [(&vbr, "is gone"), (&untagged, "changed")] {
        let lines: Vec<&str> = log.lines().filter(|l| l.contains(id.as_str())).collect();
        assert_eq!(lines.len(), 1, "one line per stale track:\n{log}");
        assert!(
            lines[0].contains(why) && lines[0].contains("rescan"),
            "{}",
            lines[0]
        );
    }
}
