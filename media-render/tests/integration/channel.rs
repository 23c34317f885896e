//! The render on a live channel (`docs/live.md`, "Renders on a channel") against fake live
//! MediaServers written here: small tokio servers speaking the contract (`GET /live/{name}`,
//! ICY framing with `grid_proto::icy`), each sending its own byte value as audio so the sink
//! shows who played what, and killable mid-stream. A fake registry-and-node locates them and
//! collects the render's events; the render is the real binary.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::BytesMut;
use grid_proto::icy::{self, Decoder, IcyReply, Item, Metadata, Protocol};
use grid_proto::media::{PlayState, RenderStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::fake::Base;
use grid_testkit::wait_until;

/// Nothing here waits this long when things work.
const LONG: Duration = Duration::from_secs(30);
/// The fake servers' `icy-metaint`: small, so titles come often.
const METAINT: usize = 1000;
/// Segments sent at once to a new listener (the burst), then one per [`TICK`].
const BURST: usize = 8;
const TICK: Duration = Duration::from_millis(20);

/// One fake live MediaServer playing channel `lounge`.
struct FakeLive {
    id: String,
    url: String,
    title: Arc<Mutex<String>>,
    /// Open listener connections.
    listeners: Arc<AtomicUsize>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// Decrements the listener count when a connection task ends, however it ends.
struct Connected(Arc<AtomicUsize>);

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FakeLive {
    async fn start(id: &str, tag: u8, title: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let title = Arc::new(Mutex::new(title.to_owned()));
        let listeners = Arc::new(AtomicUsize::new(0));
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = {
            let (title, listeners, tasks2) = (
                Arc::clone(&title),
                Arc::clone(&listeners),
                Arc::clone(&tasks),
            );
            tokio::spawn(async move {
                while let Ok((sock, _)) = listener.accept().await {
                    listeners.fetch_add(1, Ordering::SeqCst);
                    let guard = Connected(Arc::clone(&listeners));
                    let title = Arc::clone(&title);
                    let task = tokio::spawn(async move {
                        let _guard = guard;
                        let _ = serve(sock, tag, &title).await;
                    });
                    tasks2.lock().unwrap().push(task);
                }
            })
        };
        tasks.lock().unwrap().push(accept);
        Self {
            id: id.into(),
            url,
            title,
            listeners,
            tasks,
        }
    }

    fn set_title(&self, title: &str) {
        *self.title.lock().unwrap() = title.to_owned();
    }

    /// Dies mid-stream: stops accepting and drops every connection.
    fn kill(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    fn listeners(&self) -> usize {
        self.listeners.load(Ordering::SeqCst)
    }
}

/// One listener: the request head, the reply, a burst, then a segment per tick.
async fn serve(mut sock: TcpStream, tag: u8, title: &Mutex<String>) -> std::io::Result<()> {
    let mut decoder = Decoder::request();
    let req = loop {
        if sock.read_buf(decoder.input()).await? == 0 {
            return Ok(());
        }
        match decoder.next() {
            Ok(Some(Item::Request(req))) => break req,
            Ok(_) => {}
            Err(_) => return Ok(()),
        }
    };
    let mut out = BytesMut::new();
    if req.path != "/live/lounge" {
        let body = format!(r#"{{"error": "no such channel or route: {}"}}"#, req.path);
        let reply = IcyReply::new(Protocol::Http11, 404, "Not Found")
            .with_header("content-type", "application/json")
            .with_header("connection", "close")
            .with_header("content-length", &body.len().to_string());
        icy::encode_reply(&reply, &mut out);
        out.extend_from_slice(body.as_bytes());
        sock.write_all(&out).await?;
        return Ok(());
    }
    let framed = req.wants_metadata();
    let mut reply = IcyReply::new(Protocol::Http11, 200, "OK")
        .with_header("content-type", "audio/mpeg")
        .with_header("icy-name", "lounge")
        .with_header("icy-br", "128")
        .with_header("cache-control", "no-cache")
        .with_header("connection", "close");
    if framed {
        reply = reply.with_header("icy-metaint", &METAINT.to_string());
    }
    icy::encode_reply(&reply, &mut out);
    let audio = vec![tag; METAINT];
    let segment = |out: &mut BytesMut| {
        if framed {
            let meta = Metadata::title(title.lock().unwrap().clone());
            icy::encode_segment(&audio, Some(&meta), out).expect("a short title");
        } else {
            out.extend_from_slice(&audio);
        }
    };
    for _ in 0..BURST {
        segment(&mut out);
    }
    sock.write_all(&out).await?;
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        out.clear();
        segment(&mut out);
        sock.write_all(&out).await?;
    }
}

struct Rig {
    base: Base,
    servers: Vec<FakeLive>,
}

impl Rig {
    /// Fake live servers with these (id, tag, title), located in this order, and the render.
    fn new(servers: &[(&str, u8, &str)]) -> Self {
        let mut rig = Self {
            base: Base::new(),
            servers: Vec::new(),
        };
        for (id, tag, title) in servers {
            rig.add_server(id, *tag, title);
        }
        rig.start_render();
        rig
    }

    fn add_server(&mut self, id: &str, tag: u8, title: &str) {
        let s = self.base.rt.block_on(FakeLive::start(id, tag, title));
        self.servers.push(s);
        self.publish();
    }

    fn publish(&self) {
        self.base
            .fake
            .publish(self.servers.iter().map(|s| (s.id.as_str(), s.url.as_str())));
    }

    fn server(&self, id: &str) -> &FakeLive {
        self.servers.iter().find(|s| s.id == id).expect("a server")
    }

    fn out(&self) -> PathBuf {
        self.base.dir.path().join("out.mp3")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.base.dir.path().join("render.log")).unwrap_or_default()
    }

    fn start_render(&mut self) {
        let args = ["--sink".into(), format!("file:{}", self.out().display())];
        let log = self.base.dir.path().join("render.log");
        self.base.start_render(&args, &log);
    }

    fn join(&self, name: &str) -> (u16, serde_json::Value) {
        self.base.call(
            reqwest::Method::POST,
            "/v1/channel",
            Some(serde_json::json!({ "name": name })),
        )
    }

    fn status(&self) -> RenderStatus {
        let (code, s) = self.base.call(reqwest::Method::GET, "/v1/status", None);
        assert_eq!(code, 200);
        serde_json::from_value(s).expect("a status")
    }

    fn wait_status(&self, what: &str, pred: impl Fn(&RenderStatus) -> bool) -> RenderStatus {
        wait_until(what, LONG, || Some(self.status()).filter(|s| pred(s)))
    }

    fn events(&self, name: &str) -> Vec<serde_json::Value> {
        self.base
            .fake
            .events()
            .into_iter()
            .filter(|e| e["event"] == name)
            .collect()
    }

    fn wait_event(&self, name: &str, n: usize) -> serde_json::Value {
        wait_until(&format!("event {name} #{n}"), LONG, || {
            self.events(name).into_iter().nth(n - 1)
        })
    }

    /// How many bytes of each tag the sink holds.
    fn played(&self) -> HashMap<u8, usize> {
        let mut counts = HashMap::new();
        for b in std::fs::read(self.out()).unwrap_or_default() {
            *counts.entry(b).or_default() += 1;
        }
        counts
    }

    fn wait_played(&self, tag: u8, at_least: usize) {
        wait_until(
            &format!("{at_least} bytes of {tag:#x} played"),
            LONG,
            || (self.played().get(&tag).copied().unwrap_or(0) >= at_least).then_some(()),
        );
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // The render first, so that it does not fail over while its servers go.
        self.base.stop_render();
        for s in &self.servers {
            s.kill();
        }
    }
}

/// What `/listen` gives a player that sends `Icy-MetaData: 1`: headers, then titles parsed
/// with the ICY decoder until `want` shows up.
fn listen_for_title(rig: &Rig, want: &str) -> (reqwest::header::HeaderMap, usize) {
    let render_url = rig.base.render_url.clone();
    let http = rig.base.http.clone();
    let want = want.to_owned();
    rig.base.rt.block_on(async move {
        let (mut resp, mut decoder) = crate::fake::listen_icy(&http, &render_url).await;
        let headers = resp.headers().clone();
        let mut audio = 0;
        let found = tokio::time::timeout(LONG, async {
            loop {
                let chunk = resp.chunk().await.expect("body").expect("not ended");
                decoder.feed(&chunk);
                while let Some(item) = decoder.next().expect("a valid ICY stream") {
                    match item {
                        Item::Audio { data, .. } => audio += data.len(),
                        Item::Metadata {
                            metadata: Some(m), ..
                        } if m.stream_title.as_deref() == Some(want.as_str()) => return,
                        _ => {}
                    }
                }
            }
        })
        .await;
        assert!(found.is_ok(), "/listen never showed the title {want}");
        (headers, audio)
    })
}

#[test]
fn joins_a_channel_follows_its_titles_and_fails_over_at_the_live_edge() {
    let rig = Rig::new(&[
        ("MediaServer-1", 0xa1, "Vega Lines - Night Transit"),
        ("MediaServer-2", 0xb2, "Vega Lines - Night Transit"),
    ]);
    let (code, s) = rig.join("lounge");
    assert_eq!(code, 200, "{s}");
    let s: RenderStatus = serde_json::from_value(s).unwrap();
    assert_eq!(s.state, PlayState::Playing);
    assert!(s.track.is_none());
    let ch = s.channel.expect("on a channel");
    assert_eq!(ch.name, "lounge");
    assert_eq!(ch.server.map(|s| s.id).as_deref(), Some("MediaServer-1"));

    // The title of its first block.
    let s = rig.wait_status("the title", |s| {
        s.channel
            .as_ref()
            .is_some_and(|c| c.title == "Vega Lines - Night Transit")
    });
    assert_eq!(s.state, PlayState::Playing);
    let ev = rig.wait_event("title", 1);
    assert_eq!(ev["channel"], "lounge");
    assert_eq!(ev["title"], "Vega Lines - Night Transit");
    rig.wait_played(0xa1, 4 * METAINT);
    assert!(rig.status().bytes_received >= 4 * METAINT as u64);

    // A title change: one event, one log line.
    for s in &rig.servers {
        s.set_title("Glass Avenue - Harbour Lights");
    }
    let ev = rig.wait_event("title", 2);
    assert_eq!(ev["title"], "Glass Avenue - Harbour Lights");
    rig.wait_status("the new title", |s| {
        s.channel
            .as_ref()
            .is_some_and(|c| c.title == "Glass Avenue - Harbour Lights")
    });
    assert!(
        rig.log()
            .contains("channel lounge: title 'Glass Avenue - Harbour Lights'"),
        "{}",
        rig.log()
    );

    // A player on /listen asking for metadata gets ICY with the title.
    let (headers, _) = listen_for_title(&rig, "Glass Avenue - Harbour Lights");
    assert_eq!(headers["icy-metaint"], "16000");
    assert_eq!(headers["icy-name"], "lounge");
    assert_eq!(headers["content-type"], "audio/mpeg");

    // MediaServer-1 dies mid-stream: the render rejoins on MediaServer-2 at its live edge.
    rig.server("MediaServer-1").kill();
    let f = rig.wait_event("failover", 1);
    assert_eq!(f["channel"], "lounge");
    assert_eq!(f["from"]["id"], "MediaServer-1");
    assert_eq!(f["to"]["id"], "MediaServer-2");
    let gap = f["gap_ms"].as_f64().unwrap();
    assert!(gap > 0.0 && gap < 2000.0, "gap {gap} ms");
    // The burst arrives at once.
    rig.wait_played(0xb2, BURST * METAINT);
    let s = rig.wait_status("playing from MediaServer-2", |s| {
        s.server.as_ref().is_some_and(|s| s.id == "MediaServer-2")
    });
    assert_eq!(s.state, PlayState::Playing);
    assert_eq!(s.failovers, 1);
    let ch = s.channel.expect("still on the channel");
    assert_eq!(ch.title, "Glass Avenue - Harbour Lights");
    assert_eq!(ch.server.map(|s| s.id).as_deref(), Some("MediaServer-2"));
    assert_eq!(
        rig.events("title").len(),
        2,
        "the same title on the replica is no new title"
    );
    assert!(
        rig.log()
            .contains("channel lounge: failover MediaServer-1 -> MediaServer-2")
    );

    // stop leaves the channel: the server sees its listener go, nothing more is played.
    assert_eq!(rig.server("MediaServer-2").listeners(), 1);
    let (code, s) = rig.base.call(
        reqwest::Method::POST,
        "/v1/stop",
        Some(serde_json::json!({})),
    );
    assert_eq!(code, 200, "{s}");
    let s: RenderStatus = serde_json::from_value(s).unwrap();
    assert_eq!(s.state, PlayState::Stopped);
    assert!(s.channel.is_none());
    let ev = rig.wait_event("stopped", 1);
    assert_eq!(ev["channel"], "lounge");
    wait_until("MediaServer-2 to lose its listener", LONG, || {
        (rig.server("MediaServer-2").listeners() == 0).then_some(())
    });
    assert!(rig.log().contains("stop: left channel lounge"));
}

#[test]
fn with_no_replica_live_it_retries_and_rejoins_the_one_that_comes_back() {
    let mut rig = Rig::new(&[("MediaServer-1", 0xa1, "One")]);
    let (code, s) = rig.join("lounge");
    assert_eq!(code, 200, "{s}");
    rig.wait_played(0xa1, METAINT);
    rig.server("MediaServer-1").kill();
    let s = rig.wait_status("retrying", |s| s.state == PlayState::Retrying);
    assert!(
        s.error.as_deref().unwrap_or("").contains("channel lounge"),
        "{:?}",
        s.error
    );
    assert_eq!(s.channel.map(|c| c.name).as_deref(), Some("lounge"));

    rig.servers.clear();
    rig.add_server("MediaServer-3", 0xc3, "Three");
    let f = rig.wait_event("failover", 1);
    assert_eq!(f["from"]["id"], "MediaServer-1");
    assert_eq!(f["to"]["id"], "MediaServer-3");
    rig.wait_played(0xc3, METAINT);
    let s = rig.wait_status("playing again", |s| {
        s.state == PlayState::Playing && s.channel.as_ref().is_some_and(|c| c.title == "Three")
    });
    assert_eq!(s.failovers, 1);
    assert!(s.error.is_none());
}

#[test]
fn unknown_channels_and_bad_names_are_refused_and_a_track_load_that_fails_keeps_the_channel() {
    let rig = Rig::new(&[("MediaServer-1", 0xa1, "One")]);
    let (code, e) = rig.join("jazz");
    assert_eq!(code, 404, "{e}");
    assert!(e["error"].as_str().unwrap().contains("jazz"), "{e}");
    let (code, e) = rig.join("Not A Name");
    assert_eq!(code, 400, "{e}");
    let (code, e) = rig.base.call(
        reqwest::Method::POST,
        "/v1/channel",
        Some(serde_json::json!({ "channel": "lounge" })),
    );
    assert_eq!(code, 400, "{e}");
    assert_eq!(rig.status().state, PlayState::Idle);

    let (code, _) = rig.join("lounge");
    assert_eq!(code, 200);
    rig.wait_played(0xa1, METAINT);
    // A load that finds no track leaves the channel playing.
    let (code, e) = rig.base.call(
        reqwest::Method::POST,
        "/v1/load",
        Some(serde_json::json!({ "track_id": "0123456789abcdef" })),
    );
    assert!(code >= 400, "{e}");
    let s = rig.status();
    assert_eq!(s.state, PlayState::Playing);
    assert!(s.channel.is_some());
    // A live channel cannot be paused.
    let (code, e) = rig.base.call(
        reqwest::Method::POST,
        "/v1/pause",
        Some(serde_json::json!({})),
    );
    assert_eq!(code, 409, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("stop leaves it"),
        "{e}"
    );
    // A plain /listen gets plain audio.
    let url = format!("{}/listen", rig.base.render_url);
    let headers = rig.base.rt.block_on(async {
        let resp = rig.base.http.get(&url).send().await.expect("GET /listen");
        resp.headers().clone()
    });
    assert_eq!(headers["content-type"], "audio/mpeg");
    assert!(headers.get("icy-metaint").is_none());
}
