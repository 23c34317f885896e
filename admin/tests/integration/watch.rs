//! `gridadmin -e watch`: the real registry's events, one line each, resumed after the registry
//! is killed and started again on its port.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use grid_testkit::{Grid, Killed, wait_until};

const LONG: Duration = Duration::from_secs(30);

/// Each line `read` gives, sent from a thread of its own.
fn lines(read: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(read).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first line from `rx` that `pred` accepts, within [`LONG`].
fn line_where(rx: &Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + LONG;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no line with {what} ({e})"));
        if pred(&line) {
            return line;
        }
    }
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

#[test]
fn watch_prints_each_event_and_resumes_after_a_registry_restart() {
    let mut grid = Grid::new();
    grid.start_node("node1");
    grid.wait_node_up("node1");
    let spawn = |flags: &[&str]| {
        let mut child = grid
            .admin_command()
            .args(flags)
            .args(["-e", "watch"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("gridadmin watch");
        let out = lines(child.stdout.take().expect("stdout"));
        let err = lines(child.stderr.take().expect("stderr"));
        (Killed(child), out, err)
    };
    let (human, human_out, _) = spawn(&[]);
    let (mut watch, out, err) = spawn(&["--json"]);

    // The snapshot first, then every change, one line each.
    let first = json(&line_where(&out, "the snapshot", |_| true));
    assert_eq!(first["type"], "snapshot");
    let said = line_where(&human_out, "the snapshot", |_| true);
    assert!(
        said.contains(" UTC #") && said.contains("snapshot: 0 applications, 1 nodes (1 up)"),
        "{said}"
    );
    let desc = "name = \"Watched\"\n[[nodes.node1.servers]]\nid = \"Sleeper\"\n\
                exe = \"/bin/sh\"\nargs = [\"-c\", \"exec sleep 1000\"]\n";
    grid.deploy(desc);
    let added = json(&line_where(&out, "application-added", |l| {
        l.contains("application-added")
    }));
    assert_eq!(added["name"], "Watched");
    let active = json(&line_where(&out, "Sleeper active", |l| {
        l.contains("\"Sleeper\"") && l.contains("\"active\"")
    }));
    assert_eq!(active["type"], "server-state");
    let said = line_where(&human_out, "Sleeper active", |l| l.contains("active pid"));
    assert!(
        said.contains("server-state Sleeper on node1: active pid"),
        "{said}"
    );
    drop(human);

    // The registry killed: one line says so; started again on its port: one line says it is
    // back, and the watch goes on from a fresh snapshot that holds the application.
    let listen = grid.registry_addr().to_owned();
    grid.kill_registry();
    let lost = line_where(&err, "the loss", |_| true);
    assert!(
        lost.starts_with("warning: lost the event stream of http://"),
        "{lost}"
    );
    assert!(lost.ends_with("; reconnecting"), "{lost}");
    grid.start_registry(&listen);
    let back = line_where(&err, "the reconnection", |_| true);
    assert_eq!(
        back,
        format!("warning: reconnected to {}/v1/events", grid.url())
    );
    let again = json(&line_where(&out, "a new snapshot", |l| {
        l.contains("snapshot")
    }));
    assert_eq!(again["applications"][0]["name"], "Watched");

    // Ctrl-C ends it cleanly.
    grid_testkit::process::interrupt(watch.id());
    let status = wait_until("watch to exit on SIGINT", LONG, || {
        watch.0.try_wait().ok().flatten()
    });
    assert!(status.success(), "{status}");
}
