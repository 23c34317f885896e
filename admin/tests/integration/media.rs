//! The media plane on a real grid: browse, load and play driven by `media-control`, the
//! render's controls and queue, events on the registry's stream, and failover when MediaServers
//! are killed (once, ten times, all at once), each ending with a `file:` sink byte-identical to
//! the source track.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use grid_proto::api::LocateReply;
use grid_proto::descriptor::LoadBalancing;
use grid_proto::media::SERVER_GROUP;
use grid_proto::media::{PlayState, RenderStatus, TrackInfo};
use sha2::{Digest, Sha256};

use grid_testkit::app::{App, deactivation, media_render, media_server};
use grid_testkit::grid::Events;
use grid_testkit::{Grid, bin, kill9, wait_until};

/// Generous: CI machines are slow and loaded; nothing here waits this long when things work.
const LONG: Duration = Duration::from_secs(120);

/// The demo library, made once by `scripts/make-media.sh` under cargo's temp dir for tests and
/// kept between runs (the script skips tracks that exist).
pub fn library() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("media");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = Command::new("bash")
            .arg(root.join("scripts/make-media.sh"))
            .env("MEDIA_DIR", &dir)
            .env("MEDIA_SYNTH", bin("media-synth"))
            .stdin(Stdio::null())
            .output()
            .expect("running scripts/make-media.sh");
        assert!(
            out.status.success(),
            "make-media.sh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// `media-control --registry URL args...`, as the admin.
pub fn media_control(grid: &Grid, args: &[&str]) -> Output {
    Command::new(bin("media-control"))
        .arg("--registry")
        .arg(grid.url())
        .args(args)
        .env("GRID_USER", "admin")
        .env("GRID_PASSWORD", "admin")
        .stdin(Stdio::null())
        .output()
        .expect("running media-control")
}

/// [`media_control`], which must succeed: its stdout.
pub fn media_control_ok(grid: &Grid, args: &[&str]) -> String {
    let out = media_control(grid, args);
    assert!(
        out.status.success(),
        "media-control {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// An application of MediaServers (`server_nodes[i]` runs `MediaServer-{i+1}`) and one render,
/// `MediaRender-1` on node1, playing to `file:render1.out` at `speed`.
fn app(lib: &Path, server_nodes: &[&str], speed: u32) -> String {
    let lib = lib.display().to_string();
    let speed = speed.to_string();
    let render = media_render(&["--sink", "file:render${index}.out", "--speed", &speed]);
    let mut app = App::new("Spotifice")
        .group(SERVER_GROUP, LoadBalancing::RoundRobin)
        .template("MS", deactivation(media_server(&["--library", &lib]), 2.0))
        .template("MR", deactivation(render, 2.0))
        .instance("node1", "MR", 1);
    for (index, node) in (1..).zip(server_nodes) {
        app = app.instance(node, "MS", index);
    }
    app.toml()
}

/// A grid running [`app`], with everything active.
/// A grid of node1 and node2 on which a server killed again soon after its restart comes back
/// at once: these tests measure the render, not the node's crash-loop backoff.
pub fn two_nodes() -> Grid {
    let mut grid = Grid::new();
    grid.options
        .node_args
        .extend(["--backoff-reset-ms".into(), "200".into()]);
    grid.start_node("node1");
    grid.start_node("node2");
    grid
}

struct Media {
    grid: Grid,
    servers: Vec<String>,
    render: String,
    tracks: Vec<TrackInfo>,
}

impl Media {
    fn start(server_nodes: &[&str], speed: u32) -> Self {
        let lib = library();
        let grid = two_nodes();
        grid.deploy(&app(lib, server_nodes, speed));
        let servers: Vec<String> = (1..=server_nodes.len())
            .map(|i| format!("MediaServer-{i}"))
            .collect();
        for s in &servers {
            grid.wait_active(s, None);
        }
        grid.wait_active("MediaRender-1", None);
        let render = grid.locate("MediaRender-1.Adapter").remove(0);
        let server = grid.locate("MediaServerGroup").remove(0);
        let tracks: Vec<TrackInfo> = get_json(&grid, &format!("{server}/v1/tracks"));
        assert!(tracks.len() >= 8, "{tracks:?}");
        Self {
            grid,
            servers,
            render,
            tracks,
        }
    }

    /// The source bytes of a track.
    fn source(&self, track: &TrackInfo) -> Vec<u8> {
        std::fs::read(library().join(&track.file)).expect("the track's file")
    }

    /// The track closest to `seconds` long.
    fn track_near(&self, seconds: u64) -> TrackInfo {
        self.tracks
            .iter()
            .min_by_key(|t| t.duration_ms.abs_diff(seconds * 1000))
            .cloned()
            .expect("tracks")
    }

    fn status(&self) -> RenderStatus {
        get_json(&self.grid, &format!("{}/v1/status", self.render))
    }

    fn wait_status(&self, what: &str, pred: impl Fn(&RenderStatus) -> bool) -> RenderStatus {
        wait_until(what, LONG, || Some(self.status()).filter(|s| pred(s)))
    }

    fn control(&self, args: &[&str]) -> Output {
        media_control(&self.grid, args)
    }

    fn control_ok(&self, args: &[&str]) -> String {
        media_control_ok(&self.grid, args)
    }

    /// What the render's `file:` sink holds.
    fn played(&self) -> Vec<u8> {
        std::fs::read(self.grid.dir().join("render1.out")).unwrap_or_default()
    }

    /// The pid of a server.
    fn pid(&self, id: &str) -> u32 {
        self.grid
            .server(id)
            .and_then(|s| s.runtime.pid)
            .expect("a pid")
    }

    /// Waits for the render's next event named `name`.
    fn wait_event(&self, events: &mut Events<'_>, name: &str) -> serde_json::Value {
        events.wait_for(LONG, |e| {
            e["type"] == "server" && e["server"] == "MediaRender-1" && e["payload"]["event"] == name
        })
    }
}

fn get_json<T: serde::de::DeserializeOwned>(grid: &Grid, url: &str) -> T {
    grid.block_on(async {
        let r = reqwest::get(url).await.expect("GET");
        assert!(r.status().is_success(), "GET {url}: {}", r.status());
        r.json().await.expect("JSON")
    })
}

fn get_status(grid: &Grid, url: &str) -> (u16, Vec<u8>) {
    grid.block_on(async {
        let r = reqwest::get(url).await.expect("GET");
        (r.status().as_u16(), r.bytes().await.expect("body").to_vec())
    })
}

#[test]
fn browse_load_and_play_through_media_control_with_queue_and_controls() {
    let m = Media::start(&["node1", "node2"], 20);
    let mut events = m.grid.events();

    // The library through media-control: every track with its title and artist.
    let library = m.control_ok(&["library"]);
    for t in &m.tracks {
        assert!(library.contains(&t.title), "{library}");
        assert!(library.contains(&t.artist), "{library}");
    }
    let renders = m.control_ok(&["renders"]);
    assert!(renders.contains("MediaRender-1"), "{renders}");

    // load + play a track by a title substring; it ends with track_exhausted, byte for byte.
    let a = m.track_near(10);
    let b = m.track_near(25);
    let c = m.track_near(40);
    m.control_ok(&["load", "MediaRender-1", &a.title.to_lowercase()]);
    m.wait_event(&mut events, "loaded");
    assert_eq!(m.status().state, PlayState::Loaded);
    m.control_ok(&["play", "MediaRender-1"]);
    m.wait_event(&mut events, "playing");
    let status = m.control_ok(&["status", "MediaRender-1"]);
    assert!(status.contains(&a.title), "{status}");
    assert!(status.contains("MediaServer-"), "{status}");
    m.wait_event(&mut events, "track_exhausted");
    assert_eq!(
        sha(&m.played()),
        sha(&m.source(&a)),
        "the sink holds track A"
    );

    // The queue: next plays B, and at B's end the queue advances to C on its own.
    m.control_ok(&["queue", "MediaRender-1", "add", &b.id]);
    m.control_ok(&["queue", "MediaRender-1", "add", &c.id]);
    let queue = m.control_ok(&["queue", "MediaRender-1", "list"]);
    assert!(
        queue.find(&b.title) < queue.find(&c.title),
        "B then C: {queue}"
    );
    m.control_ok(&["next", "MediaRender-1"]);
    m.wait_event(&mut events, "track_exhausted");
    let after_c = m.wait_event(&mut events, "track_exhausted");
    assert_eq!(after_c["payload"]["track_id"], c.id.as_str(), "{after_c}");
    let expected = [m.source(&a), m.source(&b), m.source(&c)].concat();
    assert_eq!(sha(&m.played()), sha(&expected), "A, B, C in order");
    let queue = m.control_ok(&["queue", "MediaRender-1", "list"]);
    assert!(!queue.contains(&c.title), "the queue was consumed: {queue}");

    // pause holds the position, resume moves it again, stop ends the track early.
    let long = m.track_near(240);
    m.control_ok(&["load", "MediaRender-1", &long.id]);
    m.control_ok(&["play", "MediaRender-1"]);
    m.wait_status("position moving", |s| s.position_ms > 2000);
    m.control_ok(&["pause", "MediaRender-1"]);
    m.wait_event(&mut events, "paused");
    let held = m.status();
    assert_eq!(held.state, PlayState::Paused);
    // While paused the position stays: check it over a few status reads.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(m.status().position_ms, held.position_ms);
    }
    m.control_ok(&["resume", "MediaRender-1"]);
    m.wait_status("position moving again", |s| {
        s.state == PlayState::Playing && s.position_ms > held.position_ms + 1000
    });
    m.control_ok(&["stop", "MediaRender-1"]);
    m.wait_event(&mut events, "stopped");
    assert_eq!(m.status().state, PlayState::Stopped);
    let played = m.played();
    let prefix = &played[expected.len()..];
    assert!(!prefix.is_empty());
    assert_eq!(
        prefix,
        &m.source(&long)[..prefix.len()],
        "what played before stop is the track's start"
    );

    // Bad track ids: a clear error and a non-zero exit, nothing played.
    let out = m.control(&["load", "MediaRender-1", "0123456789abcdef"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no track matches '0123456789abcdef'"), "{err}");
    // The render's own API, bypassing media-control's look-up (as the admin): the
    // MediaServer's 404 says why.
    let token = m.grid.block_on(async {
        let r: grid_proto::api::LoginReply = reqwest::Client::new()
            .post(format!("{}/v1/sessions", m.grid.url()))
            .json(&serde_json::json!({ "user": "admin", "password": "admin" }))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("a login reply");
        r.token
    });
    for (id, code) in [("0123456789abcdef", 404), ("../../etc/passwd", 400)] {
        let (status, body) = m.grid.block_on(async {
            let r = reqwest::Client::new()
                .post(format!("{}/v1/load", m.render))
                .bearer_auth(&token)
                .json(&serde_json::json!({ "track_id": id }))
                .send()
                .await
                .expect("POST");
            (r.status().as_u16(), r.text().await.expect("body"))
        });
        assert_eq!(status, code, "{id}: {body}");
        assert!(body.contains("track"), "{body}");
    }
    let out = m.control(&["load", "MediaRender-1", "no title has this in it"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no track matches"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = m.control(&["play", "MediaRender-9"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MediaRender-9"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Straight from a MediaServer: Range for players, and traversal attempts read nothing.
    let server = &m.grid.locate("MediaServerGroup")[0];
    let (code, body) = get_status(&m.grid, &format!("{server}/v1/tracks/{}/audio", a.id));
    assert_eq!(code, 200);
    assert_eq!(body, m.source(&a));
    let range = m.grid.block_on(async {
        reqwest::Client::new()
            .get(format!("{server}/v1/tracks/{}/audio", a.id))
            .header("range", "bytes=100-199")
            .send()
            .await
            .expect("GET")
    });
    assert_eq!(range.status().as_u16(), 206);
    let part = m.grid.block_on(range.bytes()).expect("body");
    assert_eq!(&part[..], &m.source(&a)[100..200]);
    for evil in [
        "/v1/tracks/..%2F..%2F..%2Fetc%2Fpasswd/audio",
        "/v1/tracks/%2Fetc%2Fpasswd",
        "/v1/tracks/../../etc/passwd",
        "/v1/tracks/..",
        "/v1/tracks/%2e%2e%2fsecret/audio",
    ] {
        let (code, body) = get_status(&m.grid, &format!("{server}{evil}"));
        assert_eq!(code, 404, "{evil}");
        assert!(!String::from_utf8_lossy(&body).contains("root:"), "{evil}");
    }

    // The story of the playback in the logs.
    let log = std::fs::read_to_string(m.grid.dir().join("mediarender1.log")).unwrap();
    for step in [
        "load_track",
        "get_track_info",
        "open_stream",
        "track_exhausted",
    ] {
        assert!(log.contains(step), "mediarender1.log lacks {step}:\n{log}");
    }
}

/// Plays `track` from the start and runs `chaos` while it plays; the sink must then hold the
/// track byte for byte after what it held before. The render's events up to `track_exhausted`.
fn play_through(
    m: &Media,
    events: &mut Events<'_>,
    track: &TrackInfo,
    chaos: impl FnOnce(),
) -> Vec<serde_json::Value> {
    let before = m.played().len();
    m.control_ok(&["load", "MediaRender-1", &track.id]);
    m.control_ok(&["play", "MediaRender-1"]);
    chaos();
    let seen = std::cell::RefCell::new(Vec::new());
    events.wait_for(LONG, |e| {
        if e["type"] != "server" || e["server"] != "MediaRender-1" {
            return false;
        }
        seen.borrow_mut().push(e["payload"].clone());
        e["payload"]["event"] == "track_exhausted"
    });
    let played = m.played();
    assert_eq!(
        sha(&played[before..]),
        sha(&m.source(track)),
        "the sink holds {} byte for byte ({} bytes, source {})",
        track.title,
        played.len() - before,
        track.size
    );
    seen.into_inner()
}

/// Kills the MediaServer the render streams from, once its stream is under way, and waits until
/// the render has failed over.
fn kill_current(m: &Media) {
    let s = m.wait_status("streaming from a server", |s| {
        s.state == PlayState::Playing && s.server.is_some() && s.bytes_received > 0
    });
    let from = s.server.clone().expect("a server");
    let pid = m.pid(&from.id);
    kill9(pid);
    let after = m.wait_status("a failover", |n| n.failovers > s.failovers);
    let last = after.last_failover.expect("the failover");
    assert_eq!(last.from.map(|f| f.id), Some(from.id));
}

#[test]
fn a_render_fails_over_without_losing_a_byte() {
    let m = Media::start(&["node1", "node2", "node1"], 16);
    let mut events = m.grid.events();
    let track = m.track_near(240);

    // Once.
    play_through(&m, &mut events, &track, || kill_current(&m));
    assert!(m.status().failovers >= 1);

    // Ten times in one track.
    let before = m.status().failovers;
    play_through(&m, &mut events, &track, || {
        for _ in 0..10 {
            kill_current(&m);
        }
    });
    assert!(m.status().failovers >= before + 10);

    // Every replica at once: the render retries, keeping its place, until the nodes have
    // restarted one.
    let before = m.status().failovers;
    let seen = play_through(&m, &mut events, &track, || {
        m.wait_status("streaming", |s| s.bytes_received > 100_000);
        let pids: Vec<u32> = m.servers.iter().map(|s| m.pid(s)).collect();
        for pid in pids {
            kill9(pid);
        }
        m.wait_status("a failover", |s| s.failovers > before);
    });
    let failover = seen
        .iter()
        .find(|e| e["event"] == "failover")
        .expect("a failover event");
    assert!(failover["gap_ms"].is_number(), "{failover}");
    assert!(failover["to"]["id"].is_string(), "{failover}");

    // The retry is over and the nodes restarted every replica.
    assert_eq!(m.status().error, None);
    let url = format!("{}/v1/locate/MediaServerGroup", m.grid.url());
    wait_until("every replica back", LONG, || {
        let located: LocateReply = get_json(&m.grid, &url);
        (located.endpoints.len() == m.servers.len()).then_some(())
    });
}

/// Runs `ffmpeg -v error -nostdin ARGS`, raw PCM (s16le, 44.1 kHz stereo) on stdout.
fn ffmpeg(args: &[&str]) -> std::process::Child {
    Command::new("ffmpeg")
        .args(["-v", "error", "-nostdin"])
        .args(args)
        .args(["-f", "s16le", "-ac", "2", "-ar", "44100", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg is installed (.ci/run installs it)")
}

/// Waits for `child` with a deadline (SIGKILL after it); its stdout, after checking it succeeded.
fn finish(child: std::process::Child, what: &str) -> Vec<u8> {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(LONG) {
        Ok(out) => out.expect("ffmpeg's output"),
        Err(_) => {
            kill9(pid);
            panic!("{what}: ffmpeg did not finish within {LONG:?}");
        }
    };
    assert!(
        out.status.success(),
        "{what}: ffmpeg failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// PCM that is not silence.
fn audible(pcm: &[u8]) -> bool {
    pcm.chunks_exact(2)
        .map(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs())
        .max()
        .is_some_and(|peak| peak > 1000)
}

#[test]
fn a_real_player_hears_a_render_and_seeks_a_server() {
    let m = Media::start(&["node1", "node2"], 1);
    let track = m.track_near(60);

    // ffmpeg as a listener of the render's /listen, connected before playback starts: it
    // decodes 4 s of what the render plays.
    let listener = ffmpeg(&["-i", &format!("{}/listen", m.render), "-t", "4"]);
    wait_until("ffmpeg connected to /listen", LONG, || {
        let log = std::fs::read_to_string(m.grid.dir().join("mediarender1.log")).ok()?;
        log.contains("listener").then_some(())
    });
    m.control_ok(&["load", "MediaRender-1", &track.id]);
    m.control_ok(&["play", "MediaRender-1"]);
    let heard = finish(listener, "/listen");
    assert_eq!(heard.len(), 4 * 44_100 * 4, "4 s of stereo 16-bit PCM");
    assert!(audible(&heard), "the render's music, not silence");
    m.control_ok(&["stop", "MediaRender-1"]);

    // Straight from a MediaServer, seeking by Range: the same samples as from the file itself.
    let server = &m.grid.locate("MediaServerGroup")[0];
    let url = format!("{server}/v1/tracks/{}/audio", track.id);
    let file = library().join(&track.file);
    let from_server = finish(
        ffmpeg(&["-ss", "30", "-i", &url, "-t", "1"]),
        "seek on HTTP",
    );
    let from_file = finish(
        ffmpeg(&["-ss", "30", "-i", &file.display().to_string(), "-t", "1"]),
        "seek in the file",
    );
    assert_eq!(from_server.len(), 44_100 * 4);
    assert!(audible(&from_server));
    assert_eq!(
        sha(&from_server),
        sha(&from_file),
        "the same second of the track"
    );

    // ffprobe reads the tags and duration over HTTP.
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration:format_tags=title,artist",
        ])
        .args(["-of", "json", &url])
        .output()
        .expect("ffprobe");
    assert!(probe.status.success());
    let probe: serde_json::Value = serde_json::from_slice(&probe.stdout).expect("JSON");
    assert_eq!(probe["format"]["tags"]["title"], track.title.as_str());
    assert_eq!(probe["format"]["tags"]["artist"], track.artist.as_str());
    let seconds: f64 = probe["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("a duration");
    assert!(
        (seconds * 1000.0 - track.duration_ms as f64).abs() < 200.0,
        "{seconds} s vs {} ms",
        track.duration_ms
    );
}
