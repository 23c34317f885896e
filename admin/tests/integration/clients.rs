//! Bounded clients, tried as an attacker on the network would: a half-sent request is closed
//! after the header timeout and holds up no stop, one address cannot take every connection, and
//! an oversized descriptor is refused with the limit it broke.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use grid_testkit::grid::Options;
use grid_testkit::process::{addr_file, term};
use grid_testkit::{Grid, Killed, alive, wait_until};

/// A request head cut before its end: what a slow or hostile client leaves open.
const HALF: &[u8] = b"GET /v1/registry HTTP/1.1\r\nhost: x\r\nx-slow: ";

fn registry_with(flags: &[&str]) -> Grid {
    let mut options = Options::default();
    options
        .registry_args
        .extend(flags.iter().map(|f| f.to_string()));
    Grid::with(options)
}

fn held(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(HALF).expect("half a request");
    s
}

/// Reads `s` to its end (bounded by `timeout`); what it got, or `None` if it stayed open.
fn read_to_end(s: &mut TcpStream, timeout: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(timeout)).expect("timeout");
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => Some(got),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => Some(got),
        Err(_) => None,
    }
}

/// One `GET path` on a fresh connection; the whole answer.
fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .expect("request");
    let got = read_to_end(&mut s, Duration::from_secs(30)).expect("an answer");
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn a_half_sent_request_is_closed_after_the_header_timeout() {
    let grid = registry_with(&["--header-timeout-ms", "500"]);
    let addr = grid.registry_addr().to_owned();
    let started = Instant::now();
    let mut slow = held(&addr);
    // Others are served meanwhile.
    assert!(get(&addr, "/v1/registry").starts_with("HTTP/1.1 200"));
    let got = read_to_end(&mut slow, Duration::from_secs(60))
        .expect("the registry closes a half-sent request");
    let waited = started.elapsed();
    eprintln!(
        "half-sent request closed after {} ms: {:?}",
        waited.as_millis(),
        String::from_utf8_lossy(&got)
    );
    assert!(waited >= Duration::from_millis(450), "{waited:?}");
    assert!(
        got.is_empty() || got.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn one_address_past_its_connection_cap_is_answered_503_naming_the_limit() {
    let grid = registry_with(&["--max-conns-per-peer", "3", "--header-timeout-ms", "120000"]);
    let addr = grid.registry_addr().to_owned();
    let mut holding: Vec<TcpStream> = (0..3).map(|_| held(&addr)).collect();
    let refused = wait_until(
        "the fourth connection refused",
        Duration::from_secs(30),
        || {
            let answer = get(&addr, "/v1/registry");
            answer.starts_with("HTTP/1.1 503").then_some(answer)
        },
    );
    assert!(
        refused.to_ascii_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    assert!(
        refused.contains(
            "too many connections from 127.0.0.1: the limit is 3 per address (--max-conns-per-peer)"
        ),
        "{refused}"
    );
    // A freed place is taken again.
    drop(holding.pop());
    wait_until("a place freed", Duration::from_secs(30), || {
        get(&addr, "/v1/registry")
            .starts_with("HTTP/1.1 200")
            .then_some(())
    });
    let log = std::fs::read_to_string(grid.dir().join("registry.log")).expect("the log");
    assert_eq!(
        log.matches("refusing connections from 127.0.0.1").count(),
        1,
        "one line per streak, not per connection: {log}"
    );
}

#[test]
fn an_oversized_descriptor_is_refused_413_and_gridadmin_says_why() {
    let grid = registry_with(&["--max-body", "4096"]);
    let mut toml = grid_testkit::app::four_servers("media").toml();
    while toml.len() < 6000 {
        toml.push_str("# padding that makes the descriptor too large to accept\n");
    }
    let file = grid.dir().join("big.toml");
    std::fs::write(&file, &toml).expect("the descriptor file");
    let out = grid.admin(&format!("application add {}", file.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("descriptor is "), "{stderr}");
    assert!(
        stderr.contains("the limit is 4.0 KB (--max-body)"),
        "{stderr}"
    );
    assert!(!stderr.contains("unreachable"), "{stderr}");
    // Nothing half-written.
    let list = grid.admin("application list");
    assert!(list.status.success());
    assert!(
        !String::from_utf8_lossy(&list.stdout).contains("Spotifice"),
        "{}",
        String::from_utf8_lossy(&list.stdout)
    );
    // Within the limit, the same registry takes it.
    let small = grid.dir().join("small.toml");
    std::fs::write(&small, grid_testkit::app::four_servers("media").toml()).expect("write");
    let out = grid.admin(&format!("application add {}", small.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_render_stops_at_once_with_a_half_sent_request_open() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let addr_path = dir.path().join("render.addr");
    let mut cmd = std::process::Command::new(grid_testkit::bin("media-render"));
    cmd.args(["--listen", "127.0.0.1:0", "--server", "http://127.0.0.1:9"])
        // Only the stop's own bound may close the held connection.
        .args(["--header-timeout-ms", "600000", "--addr-file"])
        .arg(&addr_path);
    let mut render = Killed::quiet(&mut cmd, "media-render");
    let addr = addr_file(&mut render.0, &addr_path, Duration::from_secs(60));
    let mut slow = held(&addr);
    assert!(get(&addr, "/v1/health").starts_with("HTTP/1.1 200"));
    let pid = render.id();
    let asked = Instant::now();
    term(pid);
    let status = wait_until("the render's exit", Duration::from_secs(60), || {
        render.0.try_wait().ok().flatten()
    });
    eprintln!(
        "render stopped {} ms after SIGTERM with a half-sent request open",
        asked.elapsed().as_millis()
    );
    assert!(status.success(), "{status}");
    assert!(!alive(pid));
    assert_eq!(
        read_to_end(&mut slow, Duration::from_secs(5)),
        Some(Vec::new())
    );
}
