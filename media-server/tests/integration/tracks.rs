//! A track's audio over HTTP: whole, ranges (206), unsatisfiable ranges (416), HEAD.

use crate::helper::{Fixture, Server, content_id};

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
        let part = server
            .http
            .get(&url)
            .header("range", &range)
            .send()
            .await
            .unwrap();
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
        let refused = server
            .http
            .get(&url)
            .header("range", &range)
            .send()
            .await
            .unwrap();
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
    let head = server
        .http
        .head(&url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 206);
    assert_eq!(head.headers()["content-length"], "10");
}
