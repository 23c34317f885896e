//! `icyload` against the crate's tiny ICY source (`grid_bench::icysource`): 128 kbit/s of
//! pseudo-random "audio" with a title block every second; variants stall, close, answer 404 or
//! frame the body as HTTP/1.1 chunks, and delayed copies stand in for relays.

use std::sync::Arc;
use std::time::Duration;

use grid_bench::icysource::{self, Mode, Source};
use grid_bench::listeners::{self, LoadConfig, LoadReport};
use tokio::net::TcpListener;

const TICK: Duration = Duration::from_millis(50);

async fn serve(src: Arc<Source>, mode: Mode, delay: Duration) -> String {
    let addr = icysource::serve("127.0.0.1:0", src, mode, delay, TICK)
        .await
        .unwrap();
    format!("http://{addr}/live/test")
}

/// `listeners` listeners for `window` seconds on a fresh source serving `mode` without delay.
async fn load(mode: Mode, listeners: usize, window: f64) -> LoadReport {
    let url = serve(Source::new(), mode, Duration::ZERO).await;
    let r = listeners::run_load(&config(url, listeners, window))
        .await
        .unwrap();
    println!("{}", r.line());
    r
}

fn config(url: String, listeners: usize, window: f64) -> LoadConfig {
    LoadConfig {
        url,
        listeners,
        rate: 1000.0,
        window: Duration::from_secs_f64(window),
        settle: Duration::from_millis(300),
        server_pid: Some(std::process::id()),
        stall: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
        dump: None,
        sources: 4,
    }
}

#[tokio::test]
async fn holds_listeners_and_parses_every_block() {
    let r = load(Mode::Normal, 200, 2.5).await;
    assert_eq!((r.connected, r.alive, r.failed, r.stalls), (200, 200, 0, 0));
    assert_eq!((r.stalls_in_window, r.slow_joins), (0, 0));
    assert!(
        (115.0..145.0).contains(&r.bitrate_p1_kbps),
        "p1 {}",
        r.bitrate_p1_kbps
    );
    assert!(r.bitrate_p50_kbps >= r.bitrate_p1_kbps);
    // A block a second: at least two each in the 2.8 s (settle and window) after the joins.
    assert!(r.blocks >= 200 * 2, "{} blocks", r.blocks);
    assert_eq!(r.blocks, r.titled_blocks);
    assert!(
        r.titles
            .iter()
            .all(|t| t.starts_with("Test Artist - Track "))
    );
    assert!(r.ttfb_p50_ms < 200.0 && r.ttfb_p99_ms >= r.ttfb_p50_ms);
    assert!(r.max_gap_ms < 1000.0, "max gap {}", r.max_gap_ms);
    assert!(r.joins_per_s > 500.0, "joins {}/s", r.joins_per_s);
    let sv = r.server.expect("the test process is the server");
    assert!(sv.rss_before_kib > 0 && sv.rss_end_kib > 0);
    assert!(sv.user_s + sv.system_s >= 0.0);
    assert!(r.generator.rss_kib > 0);
}

#[tokio::test]
async fn chunked_bodies_are_decoded() {
    let r = load(Mode::Chunked, 20, 1.5).await;
    assert_eq!((r.connected, r.failed, r.stalls), (20, 0, 0));
    assert!((115.0..145.0).contains(&r.bitrate_p1_kbps));
    assert!(r.titled_blocks >= 20, "{} titled blocks", r.titled_blocks);
}

#[tokio::test]
async fn a_silence_over_two_seconds_is_a_stall() {
    let mode = Mode::Stall {
        after: Duration::from_millis(200),
        pause: Duration::from_millis(2600),
    };
    let r = load(mode, 10, 3.5).await;
    assert_eq!((r.connected, r.failed, r.stalls), (10, 0, 10));
    assert_eq!(r.stalls_in_window, 10);
    assert!(r.max_gap_ms > 2500.0, "max gap {}", r.max_gap_ms);
}

#[tokio::test]
async fn a_silence_at_the_end_of_the_window_is_a_stall() {
    let mode = Mode::Stall {
        after: Duration::from_millis(1000),
        pause: Duration::from_secs(30),
    };
    let r = load(mode, 5, 3.5).await;
    assert_eq!((r.connected, r.alive, r.stalls), (5, 5, 5));
}

#[tokio::test]
async fn failures_are_counted_by_cause() {
    let r = load(Mode::Close(Duration::from_millis(300)), 10, 1.0).await;
    assert_eq!(
        (r.connected, r.alive, r.failed, r.failures.closed),
        (10, 0, 10, 10)
    );

    let r = load(Mode::NotFound, 10, 0.2).await;
    assert_eq!((r.connected, r.failed, r.failures.status), (0, 10, 10));
    assert!(r.first_error.unwrap().contains("404"));

    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let r = listeners::run_load(&config(format!("http://{port}/live/test"), 10, 0.2))
        .await
        .unwrap();
    assert_eq!((r.connected, r.failed, r.failures.refused), (0, 10, 10));
    assert_eq!(r.bitrate_p1_kbps, 0.0);
}

#[tokio::test]
async fn relay_latency_is_found_in_the_audio() {
    let src = Source::new();
    let a = serve(src.clone(), Mode::Normal, Duration::ZERO).await;
    let b = serve(src.clone(), Mode::Normal, Duration::from_millis(300)).await;
    let c = serve(src, Mode::Chunked, Duration::from_millis(400)).await;
    let r = listeners::run_latency(
        &[a, b, c],
        Duration::from_secs(5),
        Duration::from_millis(1500),
        Duration::from_millis(300),
    )
    .await
    .unwrap();
    print!("{}", r.text());
    assert_eq!(r.hops.len(), 2);
    assert!(r.hops[0].samples >= 5, "{r:?}");
    let (ab, bc) = (&r.hops[0], &r.hops[1]);
    assert!((220.0..420.0).contains(&ab.p50_ms), "{ab:?}");
    assert!((20.0..220.0).contains(&bc.p50_ms), "{bc:?}");
    let total = r.total.unwrap();
    assert!((320.0..520.0).contains(&total.p50_ms), "{total:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_json_and_a_line() {
    let url = serve(Source::new(), Mode::Normal, Duration::ZERO).await;
    let exe = env!("CARGO_BIN_EXE_icyload");
    let pid = std::process::id().to_string();
    let run = |extra: &'static [&'static str]| {
        let (url, pid) = (url.clone(), pid.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(exe)
                .args([
                    &url,
                    "--listeners",
                    "50",
                    "--seconds",
                    "1",
                    "--settle",
                    "0.2",
                ])
                .args(["--server-pid", &pid])
                .args(extra)
                .output()
                .unwrap()
        })
    };
    let out = run(&["--json"]).await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["connected"], 50);
    assert_eq!(v["stalls"], 0);
    assert!(v["server"]["us_per_listener_s"].as_f64().is_some(), "{v}");
    assert!(v["generator"]["fd_limit"].as_u64().unwrap() >= 1024);
    let out = run(&[]).await.unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with("N=50 connected 50 alive 50 failed 0"),
        "{line}"
    );
    assert!(line.contains("µs/listener-s"), "{line}");
}
