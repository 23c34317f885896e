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

    let report = node.next_report().await;
    assert_eq!(report.server, "MediaServer-7");
    assert_eq!(report.body["token"], "token-of-MediaServer-7");
    let endpoints = report.body["endpoints"].as_object().unwrap();
    assert_eq!(endpoints.keys().collect::<Vec<_>>(), ["Adapter"]);
    let endpoint = endpoints["Adapter"].as_str().unwrap().to_owned();
    let bound = std::fs::read_to_string(dir.path().join("addr")).unwrap();
    assert_eq!(endpoint, format!("http://{bound}"));
    assert!(bound.starts_with("127.0.0.1:"), "{bound}");

    assert_eq!(
        get_json(&format!("{endpoint}/v1/health")).await,
        json!({ "status": "ok", "server": "MediaServer-7" })
    );
    assert_eq!(
        get_json(&format!("{endpoint}/v1/info")).await,
        json!({ "server": "MediaServer-7", "kind": "media-server", "library": "lib", "tracks": 2, "streams": 0 })
    );

    server.signal(Signal::SIGTERM);
    let (status, stdout) = server.exit().await;
    assert!(status.success(), "{status}\n{stdout}");
    assert!(
        stdout.contains(&format!(
            "MediaServer-7 listening on {endpoint}, library lib (2 tracks)"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("MediaServer-7 stopping (SIGTERM)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn media_server_a_refused_report_makes_it_exit_non_zero() {
    let mut node = FakeNode::start(StatusCode::UNAUTHORIZED).await;
    let dir = tempfile::tempdir().unwrap();
    let server = Process::spawn(
        &exe("media-server"),
        &[],
        &grid_env("MediaServer-8", &node.url),
        dir.path(),
    );
    node.next_report().await;
    let (status, stdout) = server.exit().await;
    assert!(!status.success(), "{stdout}");
    assert!(stdout.contains("MediaServer-8 failed"), "{stdout}");
    assert!(stdout.contains("wrong readiness token"), "{stdout}");
    // The missing default library is only a warning.
    assert!(stdout.contains("library media (0 tracks)"), "{stdout}");
}

#[tokio::test]
async fn media_server_run_by_hand_it_serves_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let addr_file = dir.path().join("addr");
    let server = Process::spawn(
        &exe("media-server"),
        &["--listen", "127.0.0.1:0", "--addr-file", "addr"],
        &[],
        dir.path(),
    );
    let bound = wait_for("the address file", || {
        std::fs::read_to_string(&addr_file).ok()
    })
    .await;
    assert_eq!(
        get_json(&format!("http://{bound}/v1/health")).await,
        json!({ "status": "ok", "server": "MediaServer" })
    );
    server.signal(Signal::SIGINT);
    let (status, stdout) = server.exit().await;
    assert!(status.success(), "{status}\n{stdout}");
    assert!(stdout.contains("MediaServer stopping (SIGINT)"), "{stdout}");
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

    let report = node.next_report().await;
    assert_eq!(report.server, "MediaRender-7");
    assert_eq!(report.body["token"], "token-of-MediaRender-7");
    let endpoints = report.body["endpoints"].as_object().unwrap();
    assert_eq!(endpoints.keys().collect::<Vec<_>>(), ["Adapter"]);
    let endpoint = endpoints["Adapter"].as_str().unwrap().to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");
    assert_eq!(
        get_json(&format!("{endpoint}/v1/health")).await,
        json!({ "status": "ok", "server": "MediaRender-7" })
    );

    render.signal(Signal::SIGTERM);
    let (status, stdout) = render.exit().await;
    assert!(status.success(), "{status}\n{stdout}");
    assert!(
        stdout.contains(&format!(
            "MediaRender-7 listening on {endpoint}; MediaServers: MediaServerGroup via registry http://127.0.0.1:4061"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("MediaRender-7 stopping (SIGTERM)"),
        "{stdout}"
    );
}

#[tokio::test]
async fn media_render_a_refused_report_makes_it_exit_non_zero() {
    let mut node = FakeNode::start(StatusCode::UNAUTHORIZED).await;
    let dir = tempfile::tempdir().unwrap();
    let render = Process::spawn(
        &exe("media-render"),
        &[],
        &grid_env("MediaRender-8", &node.url),
        dir.path(),
    );
    node.next_report().await;
    let (status, stdout) = render.exit().await;
    assert!(!status.success(), "{stdout}");
    assert!(stdout.contains("MediaRender-8 failed"), "{stdout}");
}

#[tokio::test]
async fn media_render_run_by_hand_it_takes_the_registry_flag_and_stops_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let addr_file = dir.path().join("addr");
    let render = Process::spawn(
        &exe("media-render"),
        &["--registry", "http://127.0.0.1:9", "--addr-file", "addr"],
        &[],
        dir.path(),
    );
    let bound = wait_for("the address file", || {
        std::fs::read_to_string(&addr_file).ok()
    })
    .await;
    assert!(bound.starts_with("127.0.0.1:"), "{bound}");
    assert_eq!(
        get_json(&format!("http://{bound}/v1/health")).await,
        json!({ "status": "ok", "server": "MediaRender" })
    );
    render.signal(Signal::SIGINT);
    let (status, stdout) = render.exit().await;
    assert!(status.success(), "{status}\n{stdout}");
    assert!(
        stdout.contains(&format!(
            "MediaRender listening on http://{bound}; MediaServers: MediaServerGroup via registry http://127.0.0.1:9"
        )),
        "{stdout}"
    );
    assert!(stdout.contains("MediaRender stopping (SIGINT)"), "{stdout}");
}
