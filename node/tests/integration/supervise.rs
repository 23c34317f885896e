//! End-to-end supervision tests: the real `gridnode` binary against a tiny in-process registry.
//!
//! Every wait polls a condition with a deadline; every process a test creates is found by a
//! per-test node name in its environment and killed by pid when the test ends.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::helper::*;
use grid_proto::api::{AssignedServer, Assignment, NodeStatus, ServerRuntime, ServerState};
use grid_proto::client::Client;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_always_server_is_restarted_with_a_new_pid() {
    let (mut env, seen) = assigned("restart", vec![sh("Loop", "exec sleep 1000", 2000)]).await;
    let node = env.start_node().await;
    let first = wait_active(&node, "Loop").await;
    let pid1 = first.pid.unwrap();
    sigkill(pid1);
    let second = wait_for("Loop restarted", async || {
        active(&node, "Loop").await.filter(|r| r.pid != Some(pid1))
    })
    .await;
    assert_eq!(second.restart_count, 1);
    assert_eq!(second.last_exit.as_deref(), Some("killed by SIGKILL"));
    assert!(!alive(pid1));
    // Its environment shows in /proc once the new process has exec'd.
    let new_pid = second.pid.unwrap();
    wait_for("only the restarted Loop running", async || {
        (procs_of(&env.name, Some("Loop")) == vec![new_pid]).then_some(())
    })
    .await;
    wait_for("the restart pushed to the registry", async || {
        let s = seen.lock().unwrap();
        s.pushes
            .iter()
            .any(|p| p.pid == second.pid && p.state == ServerState::Active)
            .then_some(())
    })
    .await;
    let s = seen.lock().unwrap();
    assert!(s.registers >= 1 && s.bad_secret == 0);
    assert!(std::fs::read_to_string(env.dir.path().join("data/assignment.json")).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_ignoring_sigterm_is_killed_with_its_grandchild() {
    let script = "trap '' TERM; sleep 1000 & echo $! > gc.pid; wait";
    let (mut env, seen) = assigned("stubborn", vec![sh("Stubborn", script, 1000)]).await;
    let node = env.start_node().await;
    let rt = wait_active(&node, "Stubborn").await;
    let leader = rt.pid.unwrap();
    let gc_file = env.work().join("gc.pid");
    let grandchild: u32 = wait_for("the grandchild's pid", async || {
        std::fs::read_to_string(&gc_file).ok()?.trim().parse().ok()
    })
    .await;
    assert!(alive(grandchild));

    let asked = Instant::now();
    let stopped: ServerRuntime = node
        .post("/v1/servers/Stubborn/stop", &serde_json::json!({}))
        .await
        .unwrap();
    let took = asked.elapsed();
    assert_eq!(stopped.state, ServerState::Inactive, "{stopped:?}");
    assert_eq!(stopped.last_exit.as_deref(), Some("killed by SIGKILL"));
    assert!(
        took >= Duration::from_millis(900),
        "stop returned after {took:?}"
    );
    wait_for("leader and grandchild gone", async || {
        (!alive(leader) && !alive(grandchild)).then_some(())
    })
    .await;
    assert!(procs_of(&env.name, None).is_empty());
    // State pushes travel on their own task: wait for the last one to reach the registry.
    wait_for("deactivating then inactive pushed", async || {
        let s = seen.lock().unwrap();
        let states: Vec<ServerState> = s
            .pushes
            .iter()
            .filter(|p| p.id == "Stubborn")
            .map(|p| p.state)
            .collect();
        states
            .ends_with(&[ServerState::Deactivating, ServerState::Inactive])
            .then_some(())
    })
    .await;
    // A stop is an admin's intent: the always server is not restarted behind its back.
    let rt = runtime(&node, "Stubborn").await.unwrap();
    assert_eq!((rt.state, rt.restart_count), (ServerState::Inactive, 0));
}

/// The delay the node announced in a failure like "exited 3 times in a row; next try in 0.3 s".
fn announced_delay(failure: &str) -> Option<f64> {
    failure
        .split("next try in ")
        .nth(1)?
        .trim_end_matches(" s")
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_loop_backs_off_with_growing_delays() {
    let (mut env, seen) = assigned("crash", vec![sh("Crash", "exit 3", 1000)]).await;
    let node = env.start_node().await;
    let rt = wait_for("five restarts", async || {
        runtime(&node, "Crash")
            .await
            .filter(|r| r.restart_count >= 5)
    })
    .await;
    assert_eq!(rt.last_exit.as_deref(), Some("exit status 3"));
    // The announcements travel on the push task: wait until three have arrived.
    let waits: Vec<(u32, f64)> = wait_for("three backoff announcements", async || {
        let waits: Vec<(u32, f64)> = seen
            .lock()
            .unwrap()
            .pushes
            .iter()
            .filter(|p| p.id == "Crash" && p.next_restart_ms.is_some())
            .filter_map(|p| {
                let f = p.failure.as_deref()?;
                let n = f.strip_prefix("exited ")?.split(' ').next()?.parse().ok()?;
                Some((n, announced_delay(f)?))
            })
            .collect();
        (waits.len() >= 3).then_some(waits)
    })
    .await;
    // Failure 1 restarts at once; 2, 3, 4 ... wait base * 2^(n-2) with jitter in [0.5, 1].
    assert!(waits.len() >= 3, "{waits:?}");
    for (n, d) in &waits {
        let full = (0.2 * 2f64.powi(*n as i32 - 2)).min(2.0);
        assert!(*d >= full * 0.5 - 0.051 && *d <= full + 0.051, "{waits:?}");
    }
    assert!(waits.windows(2).all(|w| w[1].0 == w[0].0 + 1), "{waits:?}");
    assert!(waits.last().unwrap().1 > waits[0].1, "{waits:?}");
    let counts: Vec<u32> = seen
        .lock()
        .unwrap()
        .pushes
        .iter()
        .filter(|p| p.id == "Crash")
        .map(|p| p.restart_count)
        .collect();
    assert!(counts.windows(2).all(|w| w[1] >= w[0]), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_killed_and_restarted_adopts_its_server() {
    let (mut env, seen) = assigned("adopt", vec![sh("Keep", "exec sleep 1000", 2000)]).await;
    let node = env.start_node().await;
    let rt = wait_active(&node, "Keep").await;
    let pid = rt.pid.unwrap();

    env.kill_node();
    assert!(alive(pid), "the server died with its node");
    let registers = seen.lock().unwrap().registers;
    let node = env.start_node().await;
    wait_for("the second node registered", async || {
        (seen.lock().unwrap().registers > registers).then_some(())
    })
    .await;
    let adopted = wait_for("Keep adopted", async || active(&node, "Keep").await).await;
    assert_eq!(adopted.pid, Some(pid));
    assert_eq!(adopted.restart_count, 0);
    assert_eq!(
        procs_of(&env.name, Some("Keep")),
        vec![pid],
        "{}",
        env.node_log()
    );
    assert!(env.node_log().contains("adopted running server"));

    // The adopted process is watched too (pidfd): killing it restarts it.
    sigkill(pid);
    let again = wait_for("Keep restarted after adoption", async || {
        active(&node, "Keep").await.filter(|r| r.pid != Some(pid))
    })
    .await;
    assert_eq!(again.restart_count, 1);
    assert_eq!(
        again.last_exit.as_deref(),
        Some("exited (adopted process, status unknown)")
    );
    // Reported active as soon as it is spawned: its environment shows in /proc once it has
    // exec'd, so wait for that rather than read it at once.
    let new_pid = again.pid.unwrap();
    wait_for("only the restarted Keep running", async || {
        (procs_of(&env.name, Some("Keep")) == vec![new_pid]).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assignment_changes_keep_unchanged_pids() {
    let a = sh("A", "echo hello-A; exec sleep 1000", 2000);
    let b = sh("B", "exec sleep 1000", 2000);
    let (mut env, seen) = assigned("diff", vec![a.clone(), b.clone()]).await;
    let node = env.start_node().await;
    let pa = wait_active(&node, "A").await.pid;
    let pb = wait_active(&node, "B").await.pid;

    let mut b2 = b.clone();
    b2.descriptor.args[1] = "exec sleep 999".into();
    let c = sh("C", "exec sleep 1000", 2000);
    let put = |servers: Vec<AssignedServer>, serial| {
        let node = node.clone();
        async move {
            let _: NodeStatus = node
                .put("/v1/assignment", &Assignment { serial, servers })
                .await
                .unwrap();
        }
    };
    put(vec![a.clone(), b2.clone(), c.clone()], 2).await;
    wait_for("B restarted with its new descriptor", async || {
        active(&node, "B").await.filter(|r| r.pid != pb)
    })
    .await;
    wait_for("C started", async || active(&node, "C").await).await;
    assert_eq!(active(&node, "A").await.unwrap().pid, pa);

    let mut a_stopped = a.clone();
    a_stopped.stopped = true;
    put(vec![a_stopped, b2.clone()], 3).await;
    wait_for("A stopped and C destroyed", async || {
        let a = runtime(&node, "A").await?;
        (a.state == ServerState::Inactive && runtime(&node, "C").await.is_none()).then_some(())
    })
    .await;
    wait_for("C's destruction pushed", async || {
        let s = seen.lock().unwrap();
        s.pushes
            .iter()
            .any(|p| p.id == "C" && p.state == ServerState::Destroyed)
            .then_some(())
    })
    .await;
    let cached: Assignment = serde_json::from_slice(
        &std::fs::read(env.dir.path().join("data/assignment.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(cached.serial, 3);

    put(vec![a.clone(), b2], 4).await;
    wait_for("A running again", async || active(&node, "A").await).await;

    let log: grid_proto::api::LogReply = node.get("/v1/servers/A/log?tail=1").await.unwrap();
    assert_eq!(log.text, "hello-A\n");
    assert!(log.path.ends_with("work/A.log"));
    let err = node
        .get::<NodeStatus>("/v1/servers/Nope/log")
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.to_string().as_str()),
        (Some(404), "unknown server 'Nope'")
    );
    let anon = Client::new(node.base(), "node").unwrap();
    let err = anon.get::<NodeStatus>("/v1/status").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapters_become_active_on_ready_or_fail_on_timeout() {
    let mut s = sh("Ad", "exec sleep 1000", 1000);
    s.descriptor.activation_timeout_ms = 1500;
    s.descriptor.adapters = vec![grid_proto::descriptor::AdapterDescriptor {
        name: "Adapter".into(),
        id: "Ad.Adapter".into(),
        replica_group: None,
    }];
    let (mut env, _seen) = assigned("ready", vec![s]).await;
    let node = env.start_node().await;
    // The first spawn never reports: it fails activation and is restarted.
    let rt = wait_for("an activation timeout", async || {
        runtime(&node, "Ad")
            .await
            .filter(|r| r.restart_count >= 1 && r.pid.is_some())
    })
    .await;
    assert_eq!(rt.state, ServerState::Activating);
    assert_eq!(
        rt.failure.as_deref(),
        Some("did not report ready within 1.5 s")
    );
    let pid = rt.pid.unwrap();
    let token = env_var(pid, "GRID_READY_TOKEN").unwrap();
    assert_eq!(
        env_var(pid, "GRID_ADAPTERS").as_deref(),
        Some("Adapter=Ad.Adapter")
    );
    assert_eq!(env_var(pid, "GRID_NODE_URL").as_deref(), Some(node.base()));

    let report = |token: &str| grid_proto::api::ReadyReport {
        token: token.into(),
        endpoints: BTreeMap::from([("Adapter".into(), "http://127.0.0.1:9".into())]),
    };
    let anon = Client::new(node.base(), "server").unwrap();
    let err = anon
        .post::<_, serde_json::Value>("/v1/servers/Ad/ready", &report("wrong"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));
    let _: serde_json::Value = anon
        .post("/v1/servers/Ad/ready", &report(&token))
        .await
        .unwrap();
    let rt = active(&node, "Ad").await.unwrap();
    assert_eq!(rt.pid, Some(pid));
    assert_eq!(
        rt.endpoints.get("Ad.Adapter").map(String::as_str),
        Some("http://127.0.0.1:9")
    );
    assert_eq!(rt.failure, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_servers_and_cache_restarts_them_without_registry() {
    let (url, _seen) = fake_registry(Assignment {
        serial: 7,
        servers: vec![sh("Cached", "exec sleep 1000", 2000)],
    })
    .await;
    let mut env = Env::new("cache", url);
    let node = env.start_node().await;
    let pid = wait_active(&node, "Cached").await.pid.unwrap();

    let status = env.terminate_node().await;
    assert!(status.success(), "{status:?}\n{}", env.node_log());
    assert!(!alive(pid));
    assert!(procs_of(&env.name, None).is_empty());
    assert!(env.node_log().contains("stopping all servers"));

    // Nothing listens on port 1: the node runs from its cache and says the registry is away.
    env.registry = "http://127.0.0.1:1".into();
    let node = env.start_node().await;
    let rt = wait_for("Cached active from the cache", async || {
        active(&node, "Cached").await
    })
    .await;
    assert_ne!(rt.pid, Some(pid));
    let status: NodeStatus = node.get("/v1/status").await.unwrap();
    assert_eq!(status.assignment_serial, 7);
    wait_for("the outage logged", async || {
        env.node_log()
            .contains("registry unreachable")
            .then_some(())
    })
    .await;
    let _: serde_json::Value = node
        .post("/v1/shutdown", &serde_json::json!({}))
        .await
        .unwrap();
    let mut child = env.node.take().unwrap();
    let status = wait_for("the node to exit", async || child.try_wait().unwrap()).await;
    assert!(status.success());
    assert!(procs_of(&env.name, None).is_empty());
}
