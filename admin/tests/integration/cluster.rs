//! The issue's acceptance session on one host, plus the registry's and nodes' failure cases.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use grid_proto::api::ServerState;
use grid_proto::descriptor::LoadBalancing;
use grid_proto::media::SERVER_GROUP;

use grid_testkit::app::{App, deactivation, media_server, server};
use grid_testkit::{Grid, alive, bin, kill9, wait_until};

pub fn app(dir: &Path, args: &[&str]) -> String {
    let lib = dir.join("media").display().to_string();
    let args = [args, &["--library", &lib]].concat();
    let sleeper = server("Sleeper-${index}", "/bin/sh", &["-c", "exec sleep 1000"]);
    App::new("Spotifice")
        .group(SERVER_GROUP, LoadBalancing::RoundRobin)
        .template(
            "MediaServerTemplate",
            deactivation(media_server(&args), 2.0),
        )
        .template("Sleeper", sleeper)
        .instance("node1", "MediaServerTemplate", 1)
        .instance("node1", "Sleeper", 1)
        .instance("node2", "MediaServerTemplate", 2)
        .toml()
}

/// Waits until the registry shows `id` inactive.
fn inactive(grid: &Grid, id: &str) {
    wait_until(&format!("{id} inactive"), Duration::from_secs(10), || {
        let s = grid.server(id)?;
        (s.runtime.state == ServerState::Inactive).then_some(())
    });
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn acceptance_session_and_failures() {
    let mut grid = Grid::new();
    grid.start_node("node1");
    grid.start_node("node2");
    let desc = app(grid.dir(), &[]);
    grid.deploy(&desc);
    let p1 = grid.wait_active("MediaServer-1", None);
    let p2 = grid.wait_active("MediaServer-2", None);
    let sleeper = grid.wait_active("Sleeper-1", None);

    let o = grid.admin("application list");
    assert!(o.status.success(), "{o:?}");
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.trim() == "Spotifice" || l.starts_with("Spotifice ")),
        "{}",
        stdout(&o)
    );
    let o = grid.admin("server state MediaServer-1");
    assert_eq!(stdout(&o), format!("active (pid {p1})\n"));
    let o = grid.admin("node list");
    assert!(
        stdout(&o).contains("node1") && stdout(&o).contains("node2"),
        "{}",
        stdout(&o)
    );

    // stop → inactive, and it stays inactive (the node does not restart an admin's stop).
    let o = grid.admin("server stop MediaServer-1");
    assert!(o.status.success(), "{o:?}");
    assert!(!alive(p1), "the stopped server's process is gone");
    // The node reports the exit to the registry just after answering the stop.
    inactive(&grid, "MediaServer-1");
    let watch_until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < watch_until {
        assert_eq!(
            grid.server("MediaServer-1").unwrap().runtime.state,
            ServerState::Inactive
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = grid.admin("server start MediaServer-1");
    assert!(o.status.success(), "{o:?}");
    let p1 = grid.wait_active("MediaServer-1", Some(p1));

    // kill -9 of both media servers (by pid): both come back with new pids.
    for p in [p1, p2] {
        kill9(p);
    }
    let n1 = grid.wait_active("MediaServer-1", Some(p1));
    let n2 = grid.wait_active("MediaServer-2", Some(p2));
    assert!(n1 != p1 && n2 != p2);

    // A wrong password: one clear line, exit 1.
    let o = Command::new(bin("gridadmin"))
        .args([
            "-u",
            "admin",
            "-p",
            "wrong",
            "--registry",
            grid.url(),
            "-e",
            "server list",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("wrong user name or password"), "{err}");

    // Registry kill -9 and restart on the same port: applications intact, no server restarted.
    let listen = grid.registry_addr().to_owned();
    grid.kill_registry();
    // Registry down while a server is killed: the node restarts it anyway.
    kill9(n2);
    wait_until(
        "the killed server to be gone",
        Duration::from_secs(10),
        || (!alive(n2)).then_some(()),
    );
    grid.start_registry(&listen);
    let n2b = grid.wait_active("MediaServer-2", Some(n2));
    assert_eq!(
        grid.wait_active("MediaServer-1", None),
        n1,
        "MediaServer-1 was not restarted by the registry restart"
    );
    assert_eq!(grid.wait_active("Sleeper-1", None), sleeper);

    // Node kill -9 and restart: its servers are adopted, not run twice.
    grid.kill_node("node2");
    grid.start_node("node2");
    let again = grid.wait_active("MediaServer-2", None);
    assert_eq!(again, n2b, "the restarted node adopted the running server");
    assert!(alive(n2b));

    // An update that changes one server restarts only that one.
    let changed = desc.replace("exec sleep 1000", "exec sleep 999");
    let r = grid.update("Spotifice", &changed);
    assert_eq!(r.diff.changed, ["Sleeper-1"]);
    grid.wait_active("Sleeper-1", Some(sleeper));
    assert_eq!(grid.server("MediaServer-1").unwrap().runtime.pid, Some(n1));
    assert_eq!(grid.server("MediaServer-2").unwrap().runtime.pid, Some(n2b));
}

#[test]
fn on_demand_activation_and_crash_loop_through_the_grid() {
    let mut grid = Grid::new();
    grid.start_node("node1");
    let lib = grid.dir().join("media");
    grid.deploy(&format!(
        r#"
name = "Extras"
[[nodes.node1.servers]]
id = "Lazy"
exe = "media-server"
args = ["--library", "{lib}"]
activation = "on-demand"
adapters = [{{ name = "Adapter" }}]
[[nodes.node1.servers]]
id = "Crasher"
exe = "/bin/sh"
args = ["-c", "exit 3"]
"#,
        lib = lib.display()
    ));
    // On-demand: nothing runs until a client locates the adapter; locate starts it and answers.
    wait_until("node1 registered", Duration::from_secs(20), || {
        grid.server("Lazy").filter(|s| s.node_up).map(|_| ())
    });
    assert_eq!(
        grid.server("Lazy").unwrap().runtime.state,
        ServerState::Inactive
    );
    let endpoints = grid.locate("Lazy.Adapter");
    assert_eq!(endpoints.len(), 1, "{endpoints:?}");
    let lazy = grid.server("Lazy").unwrap();
    assert_eq!(lazy.runtime.state, ServerState::Active);
    assert_eq!(lazy.runtime.endpoints["Lazy.Adapter"], endpoints[0]);

    // A crash loop: restarts keep coming with growing delays the admin can see, and the grid
    // keeps answering meanwhile.
    let crasher = wait_until("three restarts of Crasher", Duration::from_secs(30), || {
        grid.server("Crasher")
            .filter(|s| s.runtime.restart_count >= 3)
    });
    assert_eq!(crasher.runtime.last_exit.as_deref(), Some("exit status 3"));
    let describe = wait_until("a visible backoff", Duration::from_secs(30), || {
        let o = grid.admin("server describe Crasher");
        let text = stdout(&o);
        text.contains("times in a row").then_some(text)
    });
    assert!(describe.contains("restart count:"), "{describe}");
    let o = grid.admin("server list");
    assert!(o.status.success() && stdout(&o).contains("Lazy"), "{o:?}");
    // An admin's stop ends the loop.
    let o = grid.admin("server stop Crasher");
    assert!(o.status.success(), "{o:?}");
    inactive(&grid, "Crasher");
    let count = grid.server("Crasher").unwrap().runtime.restart_count;
    let watch_until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < watch_until {
        let s = grid.server("Crasher").unwrap();
        assert_eq!(
            (s.runtime.state, s.runtime.restart_count),
            (ServerState::Inactive, count)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn server_events_travel_through_the_node_to_the_event_stream() {
    let mut grid = Grid::new();
    grid.start_node("node1");
    let mut events = grid.events();
    events.wait_for(Duration::from_secs(10), |e| e["type"] == "snapshot");
    // A server that announces itself with its per-spawn token, as a render does.
    let script = r#"curl -s -X POST -H 'content-type: application/json' -d "{\"token\":\"$GRID_READY_TOKEN\",\"payload\":{\"event\":\"hello\",\"n\":1}}" "$GRID_NODE_URL/v1/servers/$GRID_SERVER_ID/event"; exec sleep 1000"#;
    let desc = format!(
        "name = \"Events\"\n[[nodes.node1.servers]]\nid = \"Announcer\"\nexe = \"/bin/sh\"\nargs = [\"-c\", {}]\n",
        serde_json::to_string(script).unwrap()
    );
    grid.deploy(&desc);
    grid.wait_active("Announcer", None);
    let ev = events.wait_for(Duration::from_secs(20), |e| e["type"] == "server");
    assert_eq!(ev["server"], "Announcer");
    assert_eq!(ev["payload"], serde_json::json!({"event": "hello", "n": 1}));
}
