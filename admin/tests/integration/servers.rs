//! The real `media-server` and `media-render` binaries under a fake node: readiness report,
//! health routes, the start and stop lines, exit codes on SIGTERM and SIGINT.

use axum::http::StatusCode;
use nix::sys::signal::Signal;
use serde_json::json;

use crate::fake_node::{FakeNode, Process, get_json, grid_env, wait_for};

/// The MP3s under `dir`, recursively.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "mp3") {
            out.push(path);
        }
    }
    out
}

fn exe(name: &str) -> String {
    grid_testkit::bin(name).display().to_string()
}

/// Waits for `id`'s readiness report, with its per-spawn token; the URL of its one adapter.
async fn ready(node: &mut FakeNode, id: &str) -> String {
    let report = node.next_report().await;
    assert_eq!(report.server, id);
    assert_eq!(report.body["token"], format!("token-of-{id}"));
    let endpoints = report.body["endpoints"].as_object().unwrap();
    assert_eq!(endpoints.keys().collect::<Vec<_>>(), ["Adapter"]);
    endpoints["Adapter"].as_str().unwrap().to_owned()
}

/// Asserts `GET {base}/v1/health` names `server`.
async fn healthy(base: &str, server: &str) {
    assert_eq!(
        get_json(&format!("{base}/v1/health")).await,
        json!({ "status": "ok", "server": server })
    );
}

/// `exe` as server `id` under a node that refuses its report: it exits non-zero saying so; its
/// output.
async fn refused(exe_name: &str, id: &str) -> String {
    let mut node = FakeNode::start(StatusCode::UNAUTHORIZED).await;
    let dir = tempfile::tempdir().unwrap();
    let process = Process::spawn(&exe(exe_name), &[], &grid_env(id, &node.url), dir.path());
    node.next_report().await;
    let (status, stdout) = process.exit().await;
    assert!(!status.success(), "{stdout}");
    assert!(stdout.contains(&format!("{id} failed")), "{stdout}");
    stdout
}

/// `exe` run by hand (no node) with `args`, which make it write `addr` in `dir`: it and where it
/// listens, once its health route names `server`.
async fn by_hand(
    exe_name: &str,
    args: &[&str],
    dir: &std::path::Path,
    server: &str,
) -> (Process, String) {
    let addr_file = dir.join("addr");
    let process = Process::spawn(&exe(exe_name), args, &[], dir);
    let bound = wait_for("the address file", || {
        std::fs::read_to_string(&addr_file).ok()
    })
    .await;
    healthy(&format!("http://{bound}"), server).await;
    (process, bound)
}

/// Sends `signal` and waits: it exits 0 having said `started` and then
/// `{server} stopping ({signal})`.
async fn stops(process: Process, signal: Signal, server: &str, started: &str) {
    process.signal(signal);
    let (status, stdout) = process.exit().await;
    assert!(status.success(), "{status}\n{stdout}");
    for line in [started, &format!("{server} stopping ({})", signal.as_str())] {
        assert!(stdout.contains(line), "{line:?} not in {stdout}");
    }
}

#[tokio::test]
async fn media_server_reports_ready_serves_and_stops_on_sigterm() {
    let mut node = FakeNode::start(StatusCode::OK).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    // Two real tracks, and a file that only has the name of one (skipped by the scan).
    let lib = crate::media::library();
    let mut mp3s: Vec<_> = walk(lib);
    mp3s.sort();
    for (i, mp3) in mp3s.iter().take(2).enumerate() {
        std::fs::copy(mp3, dir.path().join(format!("lib/{i}.mp3"))).unwrap();
    }
    std::fs::write(dir.path().join("lib/fake.mp3"), b"not audio").unwrap();
    let server = Process::spawn(
        &exe("media-server"),
        &["--library", "lib", "--addr-file", "addr"],
        &grid_env("MediaServer-7", &node.url),
        dir.path(),
    );

    let endpoint = ready(&mut node, "MediaServer-7").await;
    let bound = std::fs::read_to_string(dir.path().join("addr")).unwrap();
    assert_eq!(endpoint, format!("http://{bound}"));
    assert!(bound.starts_with("127.0.0.1:"), "{bound}");
    healthy(&endpoint, "MediaServer-7").await;
    assert_eq!(
        get_json(&format!("{endpoint}/v1/info")).await,
        json!({ "server": "MediaServer-7", "kind": "media-server", "library": "lib", "tracks": 2, "streams": 0 })
    );

    let started = format!("MediaServer-7 listening on {endpoint}, library lib (2 tracks)");
    stops(server, Signal::SIGTERM, "MediaServer-7", &started).await;
}

#[tokio::test]
async fn media_server_a_refused_report_makes_it_exit_non_zero() {
    let stdout = refused("media-server", "MediaServer-8").await;
    assert!(stdout.contains("wrong readiness token"), "{stdout}");
    // The missing default library is only a warning.
    assert!(stdout.contains("library media (0 tracks)"), "{stdout}");
}

#[tokio::test]
async fn media_server_run_by_hand_it_serves_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--listen", "127.0.0.1:0", "--addr-file", "addr"];
    let (server, bound) = by_hand("media-server", &args, dir.path(), "MediaServer").await;
    let started = format!("MediaServer listening on http://{bound}");
    stops(server, Signal::SIGINT, "MediaServer", &started).await;
}

#[tokio::test]
async fn media_render_reports_ready_serves_and_stops_on_sigterm() {
    let mut node = FakeNode::start(StatusCode::OK).await;
    let dir = tempfile::tempdir().unwrap();
    let mut env = grid_env("MediaRender-7", &node.url);
    env.push((
        grid_proto::server_env::REGISTRY_URL,
        "http://127.0.0.1:4061".to_owned(),
    ));
    let render = Process::spawn(&exe("media-render"), &[], &env, dir.path());

    let endpoint = ready(&mut node, "MediaRender-7").await;
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    healthy(&endpoint, "MediaRender-7").await;

    let started = format!(
        "MediaRender-7 listening on {endpoint}; MediaServers: MediaServerGroup via registry http://127.0.0.1:4061"
    );
    stops(render, Signal::SIGTERM, "MediaRender-7", &started).await;
}

#[tokio::test]
async fn media_render_a_refused_report_makes_it_exit_non_zero() {
    refused("media-render", "MediaRender-8").await;
}

#[tokio::test]
async fn media_render_run_by_hand_it_takes_the_registry_flag_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--registry", "http://127.0.0.1:9", "--addr-file", "addr"];
    let (render, bound) = by_hand("media-render", &args, dir.path(), "MediaRender").await;
    assert!(bound.starts_with("127.0.0.1:"), "{bound}");
    let started = format!(
        "MediaRender listening on http://{bound}; MediaServers: MediaServerGroup via registry http://127.0.0.1:9"
    );
    stops(render, Signal::SIGINT, "MediaRender", &started).await;
}
