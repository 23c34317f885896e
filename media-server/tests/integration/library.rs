//! The library: tags and stream properties, content ids, rescans (API and SIGHUP), and
//! requests that try to name a path.

use grid_proto::media::TrackInfo;
use nix::sys::signal::Signal;

use crate::helper::{Fixture, Server, Tags, content_id, make_mp3, read_track, wait_until};

fn by_file<'a>(tracks: &'a [TrackInfo], file: &str) -> &'a TrackInfo {
    tracks
        .iter()
        .find(|t| t.file == file)
        .unwrap_or_else(|| panic!("{file} not in {tracks:#?}"))
}

#[tokio::test]
async fn the_listing_has_tags_durations_and_content_ids() {
    let fixture = Fixture::new();
    // Same content under another name: one track.
    std::fs::copy(&fixture.cbr.0, fixture.path().join("copy of cbr.mp3")).unwrap();
    std::fs::write(fixture.path().join("broken.mp3"), b"this is not audio").unwrap();
    let server = Server::start(fixture.path(), &[]).await;
    let tracks = server.tracks().await;

    let files: Vec<&str> = tracks.iter().map(|t| t.file.as_str()).collect();
    // Sorted by artist, album, title; the untagged one has "Unknown Artist".
    assert_eq!(
        files,
        ["cbr.mp3", "Album B/vbr.MP3", "Plain Song.mp3"],
        "{tracks:#?}"
    );

    for (path, true_ms, file) in [
        (&fixture.cbr.0, fixture.cbr.1, "cbr.mp3"),
        (&fixture.vbr.0, fixture.vbr.1, "Album B/vbr.MP3"),
        (&fixture.untagged.0, fixture.untagged.1, "Plain Song.mp3"),
    ] {
        let track = by_file(&tracks, file);
        assert_eq!(track.id, content_id(path), "{file}");
        assert_eq!(track.size, std::fs::metadata(path).unwrap().len(), "{file}");
        assert_eq!(track.content_type, "audio/mpeg");
        assert!(
            track.duration_ms.abs_diff(true_ms) <= 100,
            "{file}: {} ms, truly {true_ms} ms",
            track.duration_ms
        );
    }
    let cbr = by_file(&tracks, "cbr.mp3");
    assert_eq!(
        (cbr.title.as_str(), cbr.artist.as_str(), cbr.album.as_str()),
        ("Zeta", "Artist A", "Album A")
    );
    assert_eq!((cbr.bitrate_kbps, cbr.vbr), (128, false));
    let vbr = by_file(&tracks, "Album B/vbr.MP3");
    assert_eq!(
        (vbr.title.as_str(), vbr.artist.as_str(), vbr.album.as_str()),
        ("Beta", "Artist A", "Album B")
    );
    assert!(vbr.vbr);
    assert!(vbr.bitrate_kbps > 32 && vbr.bitrate_kbps < 320, "{vbr:?}");
    let plain = by_file(&tracks, "Plain Song.mp3");
    assert_eq!(
        (
            plain.title.as_str(),
            plain.artist.as_str(),
            plain.album.as_str()
        ),
        ("Plain Song", "Unknown Artist", "Unknown Album")
    );

    let one: TrackInfo = server
        .get(&format!("/v1/tracks/{}", cbr.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(&one, cbr);
    let log = server.log();
    assert!(log.contains("broken.mp3"), "{log}");
    assert!(log.contains("same content"), "{log}");
}

#[tokio::test]
async fn sighup_and_the_api_rescan() {
    let fixture = Fixture::new();
    let server = Server::start(fixture.path(), &[]).await;
    assert_eq!(server.tracks().await.len(), 3);

    let added = fixture.path().join("added.mp3");
    make_mp3(
        &added,
        1.0,
        false,
        &Tags {
            title: Some("New"),
            artist: Some("B"),
            album: Some("C"),
        },
    );
    let added_id = content_id(&added);
    server.signal(Signal::SIGHUP);
    wait_until("the SIGHUP rescan to list the new file", || async {
        server.tracks().await.iter().any(|t| t.id == added_id)
    })
    .await;
    assert_eq!(server.tracks().await.len(), 4);

    let (removed_content, removed_id) = read_track(&fixture.vbr.0);
    assert_eq!(server.open(&removed_id, "r", 0).await.status(), 200);
    std::fs::remove_file(&fixture.vbr.0).unwrap();
    let reply: serde_json::Value = server
        .http
        .post(server.url("/v1/library/rescan"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply, serde_json::json!({"tracks": 3}));
    assert!(!server.tracks().await.iter().any(|t| t.id == removed_id));
    let gone = server.get(&format!("/v1/tracks/{removed_id}/audio")).await;
    assert_eq!(gone.status(), 404);
    // A stream opened before keeps its open file: it plays to the end.
    let rest = server.get("/v1/streams/r/data").await;
    assert_eq!(rest.status(), 200);
    assert!(rest.bytes().await.unwrap() == removed_content);
    server.assert_logged("rescan of");
}

#[tokio::test]
async fn track_ids_are_never_paths() {
    let fixture = Fixture::new();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.mp3");
    make_mp3(
        &secret,
        1.0,
        false,
        &Tags {
            title: Some("Secret"),
            artist: Some("S"),
            album: Some("S"),
        },
    );
    let secret_id = content_id(&secret);
    std::os::unix::fs::symlink(&secret, fixture.path().join("link.mp3")).unwrap();
    std::os::unix::fs::symlink(outside.path(), fixture.path().join("linked folder")).unwrap();
    let server = Server::start(fixture.path(), &[]).await;

    let tracks = server.tracks().await;
    assert_eq!(tracks.len(), 3, "{tracks:#?}");
    assert!(!tracks.iter().any(|t| t.id == secret_id));
    let passwd_hash = "/v1/tracks/..%2F..%2F..%2Fetc%2Fpasswd";
    for path in [
        format!("/v1/tracks/{secret_id}"),
        format!("/v1/tracks/{secret_id}/audio"),
        "/v1/tracks/..%2F..%2Fetc%2Fpasswd/audio".to_owned(),
        "/v1/tracks/%2Fetc%2Fpasswd".to_owned(),
        "/v1/tracks/%2Fetc%2Fpasswd/audio".to_owned(),
        "/v1/tracks/../../etc/passwd".to_owned(),
        "/v1/tracks/..".to_owned(),
        "/v1/tracks/../audio".to_owned(),
        "/v1/tracks/%2E%2E/audio".to_owned(),
        "/v1/tracks/link.mp3/audio".to_owned(),
        "/v1/tracks/cbr.mp3/audio".to_owned(),
        format!("/v1/tracks/{}/audio", fixture.cbr.0.display()),
        passwd_hash.to_owned(),
    ] {
        assert_eq!(server.raw_status(&path), 404, "{path}");
    }
    let opened = server.open(&secret_id, "r1", 0).await;
    assert_eq!(opened.status(), 404);
    let error: serde_json::Value = opened.json().await.unwrap();
    assert_eq!(error["error"], format!("no such track: {secret_id}"));
    // The server is still fine.
    assert_eq!(server.raw_status("/v1/health"), 200);
}

/// Malformed files never fail a scan: random bytes named `.mp3` and MP3s cut short (inside
/// their ID3 tag, and mid-audio) are skipped or served, and the good tracks are all served.
#[tokio::test]
async fn malformed_files_do_not_fail_a_scan() {
    let fixture = Fixture::new();
    let mut noise = Vec::with_capacity(200_000);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.push((x >> 32) as u8);
    }
    std::fs::write(fixture.path().join("random.mp3"), &noise).unwrap();
    let cbr = std::fs::read(&fixture.cbr.0).unwrap();
    std::fs::write(fixture.path().join("cut in the tag.mp3"), &cbr[..20]).unwrap();
    std::fs::write(
        fixture.path().join("cut mid-audio.mp3"),
        &cbr[..cbr.len() / 2],
    )
    .unwrap();
    std::fs::write(fixture.path().join("empty.mp3"), b"").unwrap();
    let server = Server::start(fixture.path(), &[]).await;

    let tracks = server.tracks().await;
    for path in [&fixture.cbr.0, &fixture.vbr.0, &fixture.untagged.0] {
        let id = content_id(path);
        assert!(
            tracks.iter().any(|t| t.id == id),
            "{} not in {tracks:#?}",
            path.display()
        );
    }
    let files: Vec<&str> = tracks.iter().map(|t| t.file.as_str()).collect();
    for skipped in ["random.mp3", "cut in the tag.mp3", "empty.mp3"] {
        assert!(!files.contains(&skipped), "{skipped} in {files:?}");
        server.assert_logged(skipped);
    }
    // A rescan with them still there succeeds too.
    let rescan = server
        .http
        .post(server.url("/v1/library/rescan"))
        .send()
        .await
        .unwrap();
    assert_eq!(rescan.status(), 200);
    let rescanned: serde_json::Value = rescan.json().await.unwrap();
    assert_eq!(rescanned["tracks"], tracks.len());
}
