//! Brute force, tried as an attacker on the network would: repeated wrong passwords are held
//! back with 429 and `Retry-After`, each refusal is logged without the password, and the real
//! user logging in from another address is not locked out.

use std::time::Duration;

use grid_testkit::{Grid, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// `POST /v1/sessions` from a socket bound to `from`; the whole answer.
fn login_from(grid: &Grid, from: &str, password: &str) -> String {
    let to: std::net::SocketAddr = grid.registry_addr().parse().expect("the registry address");
    let body = serde_json::json!({ "user": "admin", "password": password }).to_string();
    grid.block_on(async {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket
            .bind(format!("{from}:0").parse().expect("an address"))
            .expect("bind the client's address");
        let mut s = socket.connect(to).await.expect("connect");
        let head = format!(
            "POST /v1/sessions HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await.expect("request head");
        s.write_all(body.as_bytes()).await.expect("request body");
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut got))
            .await
            .expect("an answer within a minute")
            .expect("read the answer");
        String::from_utf8_lossy(&got).into_owned()
    })
}

fn status(answer: &str) -> &str {
    answer.get(9..12).unwrap_or("")
}

/// The `Retry-After` of an answer, in seconds.
fn retry_after(answer: &str) -> u64 {
    answer
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("retry-after")
                .then(|| value.trim().parse().ok())?
        })
        .unwrap_or_else(|| panic!("no Retry-After in {answer}"))
}

#[test]
fn a_brute_force_is_held_back_and_the_real_user_still_logs_in() {
    let grid = Grid::new();
    let guesses = ["guess-1", "guess-2", "guess-3", "guess-4", "guess-5"];
    for guess in guesses {
        let answer = login_from(&grid, "127.0.0.1", guess);
        assert_eq!(status(&answer), "401", "{answer}");
    }
    // From now on the attacker's address waits, right password or not. Each refusal only
    // counts if it came back within the first delay (one second), which a loopback request
    // does on any machine; a very slow one is let through and the hold is still proven below.
    let mut held = login_from(&grid, "127.0.0.1", "guess-6");
    let since = std::time::Instant::now();
    let mut guessed = guesses.len();
    while status(&held) == "401" && guessed < 10 {
        guessed += 1;
        held = login_from(&grid, "127.0.0.1", &format!("guess-{}", guessed + 1));
    }
    assert_eq!(status(&held), "429", "{held}");
    assert!(retry_after(&held) >= 1, "{held}");
    assert!(
        held.contains("too many failed logins as 'admin' from 127.0.0.1: try again in"),
        "{held}"
    );
    let right = login_from(&grid, "127.0.0.1", "admin");
    if since.elapsed() < Duration::from_millis(900) {
        assert_eq!(
            status(&right),
            "429",
            "the right password is not checked while held"
        );
    }
    // gridadmin prints the registry's reason, not "unreachable".
    let out = grid
        .admin_command()
        .args(["-e", "server list"])
        .output()
        .expect("gridadmin runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if since.elapsed() < Duration::from_millis(900) {
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains("too many failed logins"), "{stderr}");
        assert!(!stderr.contains("unreachable"), "{stderr}");
    }

    // The real user, from another address, is not locked out.
    let elsewhere = login_from(&grid, "127.0.0.2", "admin");
    assert_eq!(status(&elsewhere), "200", "{elsewhere}");
    assert!(elsewhere.contains("\"token\""), "{elsewhere}");

    // Once the delay has passed, the attacker's address is checked again.
    let answer = wait_until("the delay to pass", Duration::from_secs(60), || {
        let answer = login_from(&grid, "127.0.0.1", "admin");
        (status(&answer) != "429").then_some(answer)
    });
    assert_eq!(status(&answer), "200", "{answer}");

    let log = std::fs::read_to_string(grid.dir().join("registry.log")).expect("the log");
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("login refused"))
        .collect();
    assert_eq!(refused.len(), guessed, "{log}");
    assert!(
        refused
            .iter()
            .all(|l| l.contains("user=admin") && l.contains("peer=127.0.0.1")),
        "{log}"
    );
    assert!(
        log.contains("logins held back after repeated failures"),
        "{log}"
    );
    assert!(!log.contains("guess-"), "a password reached the log: {log}");
}
