//! The render against real MediaServers: a track played byte for byte (stream and chunk
//! fetching, `/listen`), failover when its server is killed once, ten times and all at once,
//! the transport controls and the queue, and clear errors for bad requests.

use std::time::Duration;

use grid_proto::media::PlayState;
use reqwest::Method;
use serde_json::json;

use crate::helper::{GARBLED, KillOnDrop, LONG, Rig, sha, source, wait_until};

fn sink_args(rig: &Rig, speed: &str) -> Vec<String> {
    vec![
        "--sink".into(),
        format!("file:{}", rig.out().display()),
        "--speed".into(),
        speed.into(),
    ]
}

pub(crate) fn start(rig: &mut Rig, speed: &str, extra: &[&str]) {
    let mut args = sink_args(rig, speed);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    rig.start_render(&args);
}

/// A render at `speed` over `servers` MediaServers.
fn started(servers: usize, speed: &str) -> Rig {
    let mut rig = Rig::new(servers);
    start(&mut rig, speed, &[]);
    rig
}

/// A render at `speed` over `servers` MediaServers, playing `file`.
fn playing(servers: usize, speed: &str, file: &str) -> (Rig, grid_proto::media::TrackInfo) {
    let rig = started(servers, speed);
    let track = rig.track(file);
    rig.load(&track);
    rig.act("play");
    (rig, track)
}

/// Collects what `GET /listen` sends until `want` bytes have arrived.
fn listen(rig: &Rig, want: usize) -> tokio::task::JoinHandle<Vec<u8>> {
    let url = format!("{}/listen", rig.base.render_url);
    let http = rig.base.http.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let task = rig.base.rt.spawn(async move {
        let mut resp = http.get(&url).send().await.expect("GET /listen");
        assert_eq!(resp.headers()["content-type"], "audio/mpeg");
        assert_eq!(resp.headers()["cache-control"], "no-cache");
        let _ = ready_tx.send(());
        let mut got = Vec::new();
        while got.len() < want {
            match resp.chunk().await {
                Ok(Some(c)) => got.extend_from_slice(&c),
                _ => break,
            }
        }
        got
    });
    ready_rx.recv_timeout(LONG).expect("the listener connected");
    task
}

#[test]
fn plays_a_track_byte_for_byte_and_logs_each_step() {
    let rig = started(1, "50");
    let track = rig.track("medium.mp3");
    let listener = listen(&rig, track.size as usize);

    rig.load(&track);
    let s = rig.status();
    assert_eq!(s.state, PlayState::Loaded);
    assert_eq!(s.render, "MediaRender-1");
    assert_eq!(
        s.server.as_ref().map(|s| s.id.as_str()),
        Some("MediaServer-1")
    );
    rig.wait_event("loaded", 1);
    rig.act("play");
    rig.wait_event("playing", 1);
    let exhausted = rig.wait_event("track_exhausted", 1);
    assert_eq!(exhausted["track_id"], track.id.as_str());
    assert_eq!(exhausted["bytes"], track.size);

    assert_eq!(sha(&rig.played()), sha(&source("medium.mp3")));
    let heard = rig.base.rt.block_on(listener).expect("listener");
    assert_eq!(
        sha(&heard),
        sha(&source("medium.mp3")),
        "/listen got the track"
    );

    let s = rig.status();
    assert_eq!(s.state, PlayState::Stopped);
    assert_eq!(s.failovers, 0);
    assert_eq!(s.underruns, 0, "a 20 s track at speed 50 never runs dry");
    let log = rig.log();
    for step in [
        "load_track",
        "located MediaServerGroup -> MediaServer-1",
        "get_track_info",
        "open_stream",
        "play ",
        "get_audio_chunk loop started (stream, 4096-byte pieces)",
        "empty chunk at",
        "close_stream",
        "track_exhausted",
    ] {
        assert!(log.contains(step), "the log lacks {step}:\n{log}");
    }
}

#[test]
fn the_chunk_loop_plays_byte_for_byte_too() {
    let mut rig = Rig::new(1);
    start(&mut rig, "0", &["--fetch", "chunk", "--chunk", "8192"]);
    let track = rig.track("short-a.mp3");
    rig.load(&track);
    rig.act("play");
    rig.wait_event("track_exhausted", 1);
    assert_eq!(sha(&rig.played()), sha(&source("short-a.mp3")));
    assert!(rig.log().contains("(chunk, 8192-byte pieces)"));
}

/// Kills the server the render streams from once it is under way; waits for the failover and
/// starts a replacement (a node would restart it). The gap in ms.
pub(crate) fn kill_current(rig: &mut Rig) -> f64 {
    let before = rig.wait_status("streaming from a server", |s| {
        s.state == PlayState::Playing && s.server.is_some() && s.bytes_received > 0
    });
    let from = before.server.clone().expect("a server").id;
    rig.kill_server(&from);
    let after = rig.wait_status("a failover", |s| s.failovers > before.failovers);
    let last = after.last_failover.expect("the failover");
    assert_eq!(last.from.map(|f| f.id), Some(from.clone()));
    assert_ne!(last.to.id, from);
    rig.forget(&from);
    rig.start_server();
    last.gap_ms
}

#[test]
fn a_killed_server_is_replaced_without_losing_a_byte() {
    let (mut rig, _) = playing(2, "20", "long.mp3");
    let gap = kill_current(&mut rig);
    rig.wait_event("track_exhausted", 1);
    assert_eq!(sha(&rig.played()), sha(&source("long.mp3")));
    let failover = rig.wait_event("failover", 1);
    assert!(failover["gap_ms"].is_number(), "{failover}");
    assert!(failover["to"]["id"].is_string(), "{failover}");
    assert_eq!(rig.status().underruns, 0, "the read-ahead hid the failover");
    eprintln!("failover gap once: {gap:.2} ms");
}

#[test]
fn ten_kills_in_one_track_lose_nothing() {
    let (mut rig, _) = playing(2, "10", "long.mp3");
    let gaps: Vec<f64> = (0..10).map(|_| kill_current(&mut rig)).collect();
    rig.wait_event("track_exhausted", 1);
    assert_eq!(sha(&rig.played()), sha(&source("long.mp3")));
    let s = rig.status();
    assert!(s.failovers >= 10, "{s:?}");
    let max = gaps.iter().copied().fold(0.0, f64::max);
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    eprintln!("failover gaps over ten kills: mean {mean:.2} ms, max {max:.2} ms: {gaps:.2?}");
}

#[test]
fn with_every_replica_dead_it_retries_holding_its_place() {
    let (mut rig, _) = playing(2, "10", "long.mp3");
    rig.wait_status("streaming", |s| s.bytes_received > 200_000);
    for id in ["MediaServer-1", "MediaServer-2"] {
        rig.kill_server(id);
    }
    let retrying = rig.wait_status("retrying", |s| s.state == PlayState::Retrying);
    assert!(
        retrying
            .error
            .as_deref()
            .is_some_and(|e| e.contains("retrying")),
        "{retrying:?}"
    );
    assert!(retrying.server.is_none());
    // Once the buffer has run dry the position holds.
    rig.wait_status("the buffer played out", |s| s.buffered_ms == 0);
    // The last frame may still be going out: wait until two reads agree.
    let held = wait_until("the position to settle", LONG, || {
        let first = rig.status();
        std::thread::sleep(Duration::from_millis(50));
        (rig.status().position_ms == first.position_ms).then_some(first)
    });
    let again = wait_until("another status", LONG, || {
        std::thread::sleep(Duration::from_millis(50));
        Some(rig.status())
    });
    assert_eq!(again.state, PlayState::Retrying);
    assert_eq!(again.position_ms, held.position_ms, "the position holds");
    assert_eq!(again.bytes_received, held.bytes_received);

    // A node restarts one (on another port): the render finds it and finishes the track.
    rig.forget("MediaServer-1");
    rig.forget("MediaServer-2");
    rig.start_server();
    let back = rig.wait_status("playing again", |s| s.state != PlayState::Retrying);
    assert_eq!(back.error, None);
    rig.wait_event("track_exhausted", 1);
    assert_eq!(sha(&rig.played()), sha(&source("long.mp3")));
    let s = rig.status();
    assert!(s.underruns >= 1, "{s:?}");
    let failover = s.last_failover.expect("a failover");
    assert_eq!(failover.to.id, "MediaServer-3");
    eprintln!(
        "failover gap with every replica dead until a restart: {:.2} ms",
        failover.gap_ms
    );
    assert!(rig.log().contains("retrying: no MediaServer answers"));
}

#[test]
fn pause_resume_stop_next_and_the_queue() {
    let rig = started(1, "4");
    let medium = rig.track("medium.mp3");
    let a = rig.track("short-a.mp3");
    let b = rig.track("short-b.mp3");

    // Pause holds the position; resume moves it again.
    rig.play_past(&medium, 1000);
    let paused = rig.act("pause");
    assert_eq!(paused.state, PlayState::Paused);
    rig.wait_event("paused", 1);
    let held = rig.status().position_ms;
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(rig.status().position_ms, held, "paused");
    }
    let (code, err) = rig.base.call(Method::POST, "/v1/pause", Some(json!({})));
    assert_eq!(code, 409, "{err}");
    assert!(err["error"].as_str().unwrap().contains("paused"), "{err}");
    rig.act("resume");
    rig.wait_status("moving again", |s| {
        s.state == PlayState::Playing && s.position_ms > held + 500
    });

    // The queue: add, list in order, clear, add again.
    for t in [&a, &b] {
        rig.post_ok("/v1/queue", json!({ "track_id": t.id }));
    }
    let (_, list) = rig.base.call(Method::GET, "/v1/queue", None);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.id.as_str(), b.id.as_str()]);
    let (code, cleared) = rig.base.call(Method::DELETE, "/v1/queue", None);
    assert_eq!((code, cleared), (200, json!([])));
    for t in [&a, &b] {
        rig.post_ok("/v1/queue", json!({ "track_id": t.id }));
    }

    // next cuts the medium track short and plays A; at A's end the queue advances to B.
    let cut = rig.played().len();
    let s = rig.act("next");
    assert_eq!(s.track.as_ref().map(|t| t.id.as_str()), Some(a.id.as_str()));
    let first = rig.wait_event("track_exhausted", 1);
    assert_eq!(first["track_id"], a.id.as_str());
    let second = rig.wait_event("track_exhausted", 2);
    assert_eq!(second["track_id"], b.id.as_str());
    let s = rig.wait_status("stopped at the end of the queue", |s| {
        s.state == PlayState::Stopped
    });
    assert_eq!(s.track.map(|t| t.id), Some(b.id.clone()));
    let (_, list) = rig.base.call(Method::GET, "/v1/queue", None);
    assert_eq!(list, json!([]), "the queue was consumed");
    let played = rig.played();
    let medium_src = source("medium.mp3");
    let head = played.len() - a.size as usize - b.size as usize;
    assert!(head >= cut && head < medium_src.len());
    assert_eq!(
        &played[..head],
        &medium_src[..head],
        "the medium track's start"
    );
    assert_eq!(
        sha(&played[head..]),
        sha(&[source("short-a.mp3"), source("short-b.mp3")].concat()),
        "A then B"
    );

    // stop ends a track early and closes its stream; next with an empty queue stays stopped.
    rig.play_past(&medium, 500);
    let stopped = rig.act("stop");
    assert_eq!(stopped.state, PlayState::Stopped);
    rig.wait_event("stopped", 1);
    assert!(rig.log().contains("close_stream"));
    let size = rig.played().len();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rig.played().len(), size, "nothing plays after stop");
    assert_eq!(rig.act("next").state, PlayState::Stopped);
    // play after stop starts the track again.
    rig.act("play");
    rig.wait_status("playing again", |s| s.state == PlayState::Playing);
    rig.act("stop");

    // Events in order for the whole session.
    let names: Vec<String> = rig
        .events()
        .iter()
        .map(|e| e["event"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(names.first().map(String::as_str), Some("loaded"));
    assert!(names.contains(&"paused".to_owned()), "{names:?}");
}

#[test]
fn bad_requests_get_clear_errors() {
    let rig = started(1, "0");
    let post = |path: &str, body: serde_json::Value| rig.base.call(Method::POST, path, Some(body));

    let (code, err) = post("/v1/load", json!({ "track_id": "../../etc/passwd" }));
    assert_eq!(code, 400, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("not a track id"),
        "{err}"
    );

    let (code, err) = post("/v1/load", json!({ "track_id": "0123456789abcdef" }));
    assert_eq!(code, 404, "{err}");
    assert_eq!(err["error"], "no such track: 0123456789abcdef");

    let (code, err) = post("/v1/load", json!({ "track": 1 }));
    assert_eq!(code, 400, "{err}");
    assert!(err["error"].as_str().unwrap().contains("track_id"), "{err}");

    let (code, err) = post("/v1/queue", json!({ "track_id": "fedcba9876543210" }));
    assert_eq!(code, 404, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("no such track"),
        "{err}"
    );

    for action in ["play", "pause", "resume", "stop"] {
        let (code, err) = post(&format!("/v1/{action}"), json!({}));
        assert_eq!(code, 409, "{action}: {err}");
        assert!(!err["error"].as_str().unwrap().is_empty());
    }
    let (code, err) = post("/v1/play", json!({}));
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("load a track first"),
        "{code} {err}"
    );
    let (code, err) = post("/v1/rewind", json!({}));
    assert_eq!(code, 404, "{err}");
    assert!(err["error"].as_str().unwrap().contains("rewind"), "{err}");

    // Every refusal is JSON: a wrong method, a path that does not decode.
    for (method, path) in [
        (Method::GET, "/v1/load"),
        (Method::DELETE, "/v1/status"),
        (Method::PUT, "/v1/queue"),
    ] {
        let (code, err) = rig.base.call(method.clone(), path, None);
        assert_eq!(code, 405, "{method} {path}: {err}");
        assert!(
            err["error"].as_str().unwrap().contains("not allowed"),
            "{method} {path}: {err}"
        );
    }
    let (code, err) = post("/v1/%FF", json!({}));
    assert_eq!(code, 400, "{err}");
    assert!(err["error"].as_str().unwrap().contains("bad path"), "{err}");

    // Nothing of that changed the render's state.
    let s = rig.status();
    assert_eq!(s.state, PlayState::Idle);
    assert!(s.track.is_none());
}

#[test]
fn an_idle_render_stays_small() {
    let rig = started(0, "1");
    let _ = rig.status();
    let rollup = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", rig.base.render_pid()))
        .expect("smaps_rollup");
    let field = |name: &str| -> u64 {
        rollup
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("a field of smaps_rollup")
    };
    let (rss, anon) = (field("Rss:"), field("Anonymous:"));
    eprintln!("idle media-render: RSS {rss} kB, of which anonymous {anon} kB");
    // What the render allocates (heap, stacks) is the anonymous part. A debug binary adds
    // megabytes of relocated code pages on top, so the 10 MB RSS bound holds for release only.
    assert!(anon < 4 * 1024, "idle anonymous memory {anon} kB");
    if !cfg!(debug_assertions) {
        assert!(rss < 10 * 1024, "idle RSS {rss} kB");
    }
}

/// GET on a MediaServer, with a deadline: the status code.
fn get_code(rig: &Rig, url: &str) -> u16 {
    rig.base.rt.block_on(async {
        rig.base
            .http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16())
    })
}

#[test]
fn an_exec_player_that_never_reads_holds_up_nothing_and_is_stopped_at_exit() {
    let mut rig = Rig::new(1);
    rig.start_render(&["--sink", "exec:exec sleep 1000", "--speed", "20"]);
    let track = rig.track("medium.mp3");
    let listener = listen(&rig, track.size as usize);
    rig.load(&track);
    rig.act("play");
    let log = wait_until("the player started", LONG, || {
        Some(rig.log()).filter(|l| l.contains("sink: started"))
    });
    let pid: u32 = log
        .split("(pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .expect("the player's pid in the log");
    let _guard = KillOnDrop(pid);

    // The status API answers all along (each call within a deadline), and the track plays on.
    let url = format!("{}/v1/status", rig.base.render_url);
    wait_until("the track to end", LONG, || {
        assert_eq!(get_code(&rig, &url), 200, "the status API answers");
        let done = rig.events().iter().any(|e| e["event"] == "track_exhausted");
        done.then_some(())
    });
    let heard = rig.base.rt.block_on(listener).expect("listener");
    assert_eq!(
        sha(&heard),
        sha(&source("medium.mp3")),
        "/listen got it all"
    );
    assert!(
        rig.log().contains("is not keeping up; skipping"),
        "{}",
        rig.log()
    );

    // At exit the render closes its input and, as it does not end, kills it.
    let status = rig.base.stop_render().expect("the render ran");
    assert!(status.success(), "{status:?}");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the player is left running"
    );
}

#[test]
fn a_track_with_garbage_in_the_middle_still_plays_to_the_end() {
    let rig = started(1, "50");
    let track = rig.track(GARBLED);
    rig.load(&track);
    rig.act("play");
    let exhausted = rig.wait_event("track_exhausted", 1);
    assert_eq!(exhausted["bytes"], track.size);
    assert_eq!(sha(&rig.played()), sha(&source(GARBLED)), "byte for byte");
    assert!(
        exhausted["position_ms"]
            .as_u64()
            .is_some_and(|ms| ms > 15_000),
        "{exhausted}"
    );
    assert_eq!(rig.status().state, PlayState::Stopped);
}

#[test]
fn at_speed_0_the_stream_is_closed_when_the_track_ends() {
    let rig = started(1, "0");
    let a = rig.track("short-a.mp3");
    let b = rig.track("short-b.mp3");
    rig.post_ok("/v1/queue", json!({ "track_id": b.id }));
    rig.load(&a);
    rig.act("play");
    rig.wait_event("track_exhausted", 2);
    assert_eq!(
        sha(&rig.played()),
        sha(&[source("short-a.mp3"), source("short-b.mp3")].concat())
    );
    // No stream of the render is left on the server (it reaps idle ones only after a minute).
    let url = format!(
        "{}/v1/streams/MediaRender-1/chunk?offset={}",
        rig.servers[0].url, b.size
    );
    wait_until("the stream closed on the server", LONG, || {
        (get_code(&rig, &url) == 404).then_some(())
    });
    assert_eq!(
        rig.log().matches("close_stream").count(),
        2,
        "{}",
        rig.log()
    );
}

#[test]
fn a_failed_queue_advance_keeps_the_track() {
    let mut rig = Rig::new(1);
    // The whole of A is read ahead, so A plays out with its server gone.
    start(&mut rig, "2", &["--buffer-ms", "60000"]);
    let a = rig.track("short-a.mp3");
    let b = rig.track("short-b.mp3");
    rig.post_ok("/v1/queue", json!({ "track_id": b.id }));
    rig.load(&a);
    rig.act("play");
    rig.wait_status("A all received", |s| s.bytes_received == a.size);
    rig.kill_server("MediaServer-1");
    rig.forget("MediaServer-1");
    rig.wait_event("track_exhausted", 1);
    let s = rig.wait_status("the advance failed", |s| s.error.is_some());
    assert_eq!(s.state, PlayState::Stopped, "{s:?}");
    assert_eq!(s.track.as_ref().map(|t| t.id.as_str()), Some(b.id.as_str()));
    assert!(
        s.error.as_deref().is_some_and(|e| e.contains(&b.id)),
        "{s:?}"
    );

    // With a server back, play goes on with B.
    rig.start_server();
    rig.act("play");
    let second = rig.wait_event("track_exhausted", 2);
    assert_eq!(second["track_id"], b.id.as_str());
    assert_eq!(
        sha(&rig.played()),
        sha(&[source("short-a.mp3"), source("short-b.mp3")].concat())
    );
}

#[test]
fn listen_with_icy_metadata_names_the_track() {
    let rig = started(1, "50");
    let track = rig.track("medium.mp3");
    let render_url = rig.base.render_url.clone();
    let http = rig.base.http.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let want = format!("{} - {}", track.artist, track.title);
    let task = rig.base.rt.spawn(async move {
        let (mut resp, mut decoder) = crate::fake::listen_icy(&http, &render_url).await;
        let headers = resp.headers().clone();
        let _ = ready_tx.send(());
        let mut audio = Vec::new();
        loop {
            let Ok(Some(chunk)) = resp.chunk().await else {
                panic!("/listen ended before a title")
            };
            decoder.feed(&chunk);
            while let Some(item) = decoder.next().expect("a valid ICY stream") {
                match item {
                    grid_proto::icy::Item::Audio { data, .. } => audio.extend_from_slice(&data),
                    grid_proto::icy::Item::Metadata {
                        metadata: Some(m), ..
                    } => return (headers, m.stream_title, audio),
                    _ => {}
                }
            }
        }
    });
    ready_rx.recv_timeout(LONG).expect("the listener connected");
    rig.load(&track);
    rig.act("play");
    let (headers, title, audio) = rig.base.rt.block_on(task).expect("listener");
    assert_eq!(headers["icy-name"], "MediaRender-1");
    assert_eq!(headers["icy-metaint"], "16000");
    assert_eq!(title.as_deref(), Some(want.as_str()));
    // The audio between the blocks is the track's, from its start.
    assert_eq!(audio.len(), 16_000);
    assert_eq!(audio[..], source("medium.mp3")[..16_000]);
}

#[test]
fn a_render_on_a_real_live_channel_fails_over_to_a_replica() {
    let mut rig = Rig::new(0);
    let channels = rig.base.dir.path().join("channels.toml");
    std::fs::write(
        &channels,
        "[[channel]]\nname = \"lounge\"\nplaylist = [\"medium.mp3\"]\nburst_ms = 1000\n",
    )
    .expect("channels file");
    rig.server_args = vec!["--channels".into(), channels.display().to_string()];
    rig.start_server();
    rig.start_server();
    start(&mut rig, "1", &[]);
    let s = rig.post_ok("/v1/channel", json!({"name": "lounge"}));
    assert_eq!(s["state"], "playing", "{s}");
    let first = s["channel"]["server"]["id"]
        .as_str()
        .expect("a server")
        .to_owned();
    let title = rig.wait_event("title", 1);
    assert_eq!(title["title"], "Render Tests - medium.mp3");
    rig.wait_status("audio from the channel", |s| s.bytes_received > 0);

    rig.kill_server(&first);
    let f = rig.wait_event("failover", 1);
    assert_eq!(f["channel"], "lounge");
    assert_eq!(f["from"]["id"], first.as_str());
    let s = rig.wait_status("playing from the replica", |s| {
        s.state == PlayState::Playing
            && s.server.as_ref().is_some_and(|r| r.id != first)
            && s.channel
                .as_ref()
                .is_some_and(|c| c.title == "Render Tests - medium.mp3")
    });
    assert_eq!(s.failovers, 1);
    let before = s.bytes_received;
    rig.wait_status("more audio from the replica", |s| {
        s.bytes_received > before + 32_000
    });
    // Every replica dies and a new one starts (a node's restart): it comes up in step, with the
    // moments before its start at hand, so the render joins its audio too.
    let second = s.server.expect("a server").id;
    rig.kill_server(&second);
    rig.forget(&first);
    rig.forget(&second);
    rig.start_server();
    let s = rig.wait_status("playing from the new server", |s| {
        s.failovers == 2 && s.state == PlayState::Playing
    });
    let before = s.bytes_received;
    rig.wait_status("more audio from the new server", |s| {
        s.bytes_received > before + 32_000
    });
    let s = rig.act("stop");
    assert_eq!(s.state, PlayState::Stopped);
    assert!(s.channel.is_none());

    // The replicas play the channel on the same schedule and the render joins the new one's
    // burst to what it played: the sink holds the track's audio with nothing repeated or lost,
    // each 4 KiB run following the previous one (but where the loop wraps to the start).
    let played = rig.played();
    let track = source("medium.mp3");
    let find = |w: &[u8]| track.windows(w.len()).position(|t| t == w);
    // The last run found: (its number, where it is in the file).
    let mut last: Option<(usize, usize)> = None;
    for (n, w) in played.chunks_exact(4096).enumerate() {
        // A run across the failover point or the loop's wrap is in no one place of the file.
        let Some(q) = find(w) else { continue };
        if let Some((m, p)) = last {
            let expected = p + (n - m) * 4096;
            let wrapped = expected + 8192 > track.len();
            assert!(
                q == expected || wrapped,
                "run {n}: at {q}, not {expected}: audio repeated or lost across the failover\n{}",
                rig.log()
            );
        }
        last = Some((n, q));
    }
    assert!(played.len() > 64_000, "{} bytes played", played.len());
    assert_eq!(
        rig.log().matches("to what was played").count(),
        2,
        "both failovers joined: {}",
        rig.log()
    );
}
