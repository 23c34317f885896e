//! The real `media-control` binary against a tiny in-test server that plays the registry, a render
//! and a MediaServer at once: arguments, output, error messages and exit codes. The whole grid is
//! tested end to end elsewhere (admin/tests).

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

#[derive(Clone)]
struct Fake {
    base: String,
    /// Every request the render got: `load <id>`, `play`, `queue add <id>`.
    calls: Arc<Mutex<Vec<String>>>,
}

fn track(id: &str, title: &str, artist: &str) -> Value {
    json!({
        "id": id, "title": title, "artist": artist, "album": "Night Transit",
        "duration_ms": 61_500, "bitrate_kbps": 192, "vbr": false, "size": 1_000_000,
        "content_type": "audio/mpeg", "file": "x.mp3"
    })
}

fn library() -> Value {
    json!([
        track("00000000000000a1", "Night Transit", "Vega Lines"),
        track("00000000000000a2", "Glass Avenue", "Vega Lines"),
        track("00000000000000a3", "Harbour Lights", "Slow Meridian"),
        track("00000000000000a4", "Lights Out", "Slow Meridian"),
    ])
}

fn status(state: &str) -> Value {
    json!({
        "render": "MediaRender-1", "state": state,
        "track": track("00000000000000a1", "Night Transit", "Vega Lines"),
        "position_ms": 1_250, "buffered_ms": 3_000, "bytes_received": 90_000,
        "server": {"id": "MediaServer-1", "endpoint": "http://127.0.0.1:1"},
        "failovers": 0, "last_failover": null, "error": null
    })
}

fn track_id(body: &Value) -> String {
    body["track_id"].as_str().unwrap_or("?").to_owned()
}

fn app(fake: Fake) -> Router {
    Router::new()
        .route(
            "/v1/adapters",
            get(|State(f): State<Fake>| async move {
                Json(json!([
                    {"id": "MediaRender-1.Adapter", "server": "MediaRender-1", "node": "node1",
                     "endpoint": f.base},
                    {"id": "MediaRender-2.Adapter", "server": "MediaRender-2", "node": "node2"},
                    {"id": "MediaServer-1.Adapter", "server": "MediaServer-1", "node": "node1",
                     "replica_group": "MediaServerGroup", "endpoint": f.base},
                ]))
            }),
        )
        .route(
            "/v1/locate/{id}",
            get(
                |State(f): State<Fake>, Path(id): Path<String>| async move {
                    let ep = |adapter: &str, server: &str| {
                        json!([{"adapter": adapter, "server": server, "endpoint": f.base}])
                    };
                    let (kind, eps) = match id.as_str() {
                        "MediaRender-1.Adapter" => ("adapter", ep(&id, "MediaRender-1")),
                        "MediaRender-2.Adapter" => ("adapter", json!([])),
                        "MediaServerGroup" => {
                            ("replica-group", ep("MediaServer-1.Adapter", "MediaServer-1"))
                        }
                        _ => {
                            let error = format!("unknown adapter or replica group '{id}'");
                            return Err((StatusCode::NOT_FOUND, Json(json!({"error": error}))));
                        }
                    };
                    Ok(Json(json!({"id": id, "kind": kind, "endpoints": eps})))
                },
            ),
        )
        .route("/v1/tracks", get(|| async { Json(library()) }))
        .route(
            "/v1/channels",
            get(|| async {
                Json(json!([{
                    "name": "lounge", "kind": "playlist", "description": "", "genre": "Ambient",
                    "bitrate_kbps": 128, "metaint": 16000, "listeners": 2, "listeners_peak": 4,
                    "joins": 6, "bytes_out": 1000, "cut_offs": 0,
                    "title": "Vega Lines - Night Transit",
                    "source": {"state": "playing", "upstream": null, "track_id": null,
                               "reconnects": 0, "segments": 3, "gaps": 0, "duplicates": 0},
                    "uptime_ms": 1000
                }]))
            }),
        )
        .route(
            "/v1/channel",
            post(|State(f): State<Fake>, Json(body): Json<Value>| async move {
                let name = body["name"].as_str().unwrap_or("?").to_owned();
                f.calls.lock().unwrap().push(format!("channel {name}"));
                if name != "lounge" {
                    let error = format!("no such channel: {name}");
                    return Err((StatusCode::NOT_FOUND, Json(json!({"error": error}))));
                }
                let mut s = status("playing");
                s["track"] = Value::Null;
                s["channel"] = json!({"name": name, "title": "Vega Lines - Night Transit",
                    "server": {"id": "MediaServer-1", "endpoint": "http://127.0.0.1:1"}});
                Ok(Json(s))
            }),
        )
        .route("/v1/status", get(|| async { Json(status("playing")) }))
        .route(
            "/v1/load",
            post(|State(f): State<Fake>, Json(body): Json<Value>| async move {
                f.calls.lock().unwrap().push(format!("load {}", track_id(&body)));
                Json(status("loaded"))
            }),
        )
        .route(
            "/v1/queue",
            get(|| async { Json(json!([])) })
                .post(|State(f): State<Fake>, Json(body): Json<Value>| async move {
                    f.calls.lock().unwrap().push(format!("queue add {}", track_id(&body)));
                    Json(json!([track("00000000000000a2", "Glass Avenue", "Vega Lines")]))
                })
                .delete(|| async { Json(json!([])) }),
        )
        .route(
            "/v1/{action}",
            post(|State(f): State<Fake>, Path(action): Path<String>| async move {
                f.calls.lock().unwrap().push(action.clone());
                Json(status(if action == "pause" { "paused" } else { "playing" }))
            }),
        )
        .with_state(fake)
}

/// Starts the fake on a free port.
async fn start() -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let fake = Fake {
        base,
        calls: Arc::default(),
    };
    let router = app(fake.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    fake
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the binary against `registry` with `args`, feeding `stdin`.
async fn run(registry: &str, args: &[&str], stdin: &str) -> Run {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_media-control"))
        .arg("--registry")
        .arg(registry)
        .args(args)
        .env_remove("GRID_REGISTRY_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Like [`run`], checked to exit 0.
async fn run_ok(registry: &str, args: &[&str], stdin: &str) -> Run {
    let r = run(registry, args, stdin).await;
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    r
}

/// Like [`run`], checked to exit 1 (a failure, not a usage error).
async fn run_failing(registry: &str, args: &[&str], stdin: &str) -> Run {
    let r = run(registry, args, stdin).await;
    assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
    r
}

impl Run {
    /// Asserts that it printed `text`.
    #[track_caller]
    fn out_has(&self, text: &str) {
        assert!(
            self.stdout.contains(text),
            "{text:?} not in:\n{}",
            self.stdout
        );
    }

    /// Asserts that it printed `text` on stderr.
    #[track_caller]
    fn err_has(&self, text: &str) {
        assert!(
            self.stderr.contains(text),
            "{text:?} not in:\n{}",
            self.stderr
        );
    }
}

#[tokio::test]
async fn library_and_renders() {
    let fake = start().await;
    let r = run_ok(&fake.base, &["library"], "").await;
    let mut lines = r.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("ID                TITLE           ARTIST         ALBUM          DURATION  KBPS  VBR")
    );
    r.out_has("00000000000000a2  Glass Avenue    Vega Lines");

    let r = run_ok(&fake.base, &["renders"], "").await;
    r.out_has("MediaRender-1  node1");
    r.out_has("playing Vega Lines - Night Transit");
    r.out_has("MediaRender-2  node2  -");
    r.out_has("not running");

    // --json (like --registry, which run() puts first) goes before or after the command.
    for args in [&["--json", "library"], &["library", "--json"]] {
        let r = run_ok(&fake.base, args, "").await;
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(v.as_array().map(Vec::len), Some(4), "{args:?}");
    }
}

#[tokio::test]
async fn a_shell_line_takes_its_own_json() {
    let fake = start().await;
    let r = run_ok(&fake.base, &[], "library --json\n").await;
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v.as_array().map(Vec::len), Some(4));
    // Only that line: the next one prints the table again.
    let r = run(&fake.base, &[], "library --json\nlibrary\n").await;
    r.out_has("ID                TITLE");
}

#[tokio::test]
async fn load_play_status_queue() {
    let fake = start().await;
    let r = run_ok(
        &fake.base,
        &["load", "MediaRender-1", "night", "TRANSIT"],
        "",
    )
    .await;
    assert_eq!(
        r.stdout,
        "MediaRender-1: loaded Vega Lines - Night Transit (00000000000000a1) at 0:01.2\n"
    );
    // The render name in another case is the same render.
    run_ok(&fake.base, &["play", "mediarender-1"], "").await;
    let r = run_ok(
        &fake.base,
        &["queue", "MediaRender-1", "add", "00000000000000A2"],
        "",
    )
    .await;
    r.out_has("queued Vega Lines - Glass Avenue");
    assert_eq!(
        *fake.calls.lock().unwrap(),
        [
            "load 00000000000000a1",
            "play",
            "queue add 00000000000000a2"
        ]
    );

    let r = run_ok(&fake.base, &["status", "MediaRender-1"], "").await;
    r.out_has("state: playing\n");
    r.out_has("position: 0:01.2 / 1:01\n");
    r.out_has("server: MediaServer-1 http://127.0.0.1:1\n");
}

#[tokio::test]
async fn errors_are_one_line_and_exit_1() {
    let fake = start().await;
    let r = run_failing(&fake.base, &["status", "MediaRender-9"], "").await;
    assert_eq!(
        r.stderr,
        "media-control: no render named MediaRender-9 (renders: MediaRender-1, MediaRender-2)\n"
    );
    let r = run_failing(&fake.base, &["play", "MediaRender-2"], "").await;
    r.err_has("render MediaRender-2 is not running");

    let r = run_failing(&fake.base, &["load", "MediaRender-1", "lights"], "").await;
    assert_eq!(
        r.stderr,
        "media-control: 'lights' matches 2 tracks: \
         Slow Meridian - Harbour Lights (00000000000000a3); \
         Slow Meridian - Lights Out (00000000000000a4)\n"
    );
    let r = run_failing(&fake.base, &["load", "MediaRender-1", "polka"], "").await;
    assert!(
        r.stderr
            .starts_with("media-control: no track matches 'polka'"),
        "{}",
        r.stderr
    );
    assert!(
        fake.calls.lock().unwrap().is_empty(),
        "nothing reached the render"
    );

    // Nothing listens there any more.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let r = run_failing(&gone, &["renders"], "").await;
    assert!(
        r.stderr.starts_with(&format!(
            "media-control: cannot list the renders: registry at {gone} is unreachable"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    let r = run(&fake.base, &["load", "MediaRender-1"], "").await;
    assert_ne!(r.code, 0, "a missing TRACK is a usage error");
    let r = run_failing("ftp://x", &["library"], "").await;
    r.err_has("bad --registry");
}

#[tokio::test]
async fn the_shell_runs_lines_until_exit() {
    let fake = start().await;
    let r = run_ok(
        &fake.base,
        &[],
        "renders\nstatus NoSuchRender\nload 'unbalanced\npause MediaRender-1\nexit\nlibrary\n",
    )
    .await;
    r.out_has("MediaRender-1  node1");
    r.out_has("MediaRender-1: paused");
    assert!(
        !r.stdout.contains("Glass Avenue"),
        "nothing runs after exit: {}",
        r.stdout
    );
    r.err_has("media-control: no render named NoSuchRender");
    r.err_has("media-control: unbalanced quotes");
}

#[tokio::test]
async fn channels_and_joining_one() {
    let fake = start().await;
    let r = run_ok(&fake.base, &["channels"], "").await;
    assert_eq!(
        r.stdout,
        "NAME    KIND      LISTENERS  TITLE\nlounge  playlist  2          Vega Lines - Night Transit\n"
    );
    let r = run_ok(&fake.base, &["--json", "channels"], "").await;
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0]["listeners_peak"], 4);

    let r = run_ok(&fake.base, &["channel", "MediaRender-1", "lounge"], "").await;
    assert_eq!(
        r.stdout,
        "MediaRender-1: playing channel lounge: Vega Lines - Night Transit (from MediaServer-1)\n"
    );
    let r = run_failing(&fake.base, &["channel", "MediaRender-1", "jazz"], "").await;
    r.err_has("no such channel: jazz");
    assert_eq!(
        *fake.calls.lock().unwrap(),
        ["channel lounge", "channel jazz"]
    );
}
