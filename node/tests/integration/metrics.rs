//! `GET /metrics` of the real `gridnode`, parsed as OpenMetrics: restarts by server and reason
//! (a SIGKILL, a server that exits four times), the backoff in force while it waits, servers
//! by state, and the start latency of a server that reports ready.

use grid_testkit::metrics::assert_values;
use std::collections::BTreeMap;

use crate::helper::*;
use grid_proto::api::ReadyReport;
use grid_proto::client::Client;
use grid_proto::descriptor::AdapterDescriptor;
use grid_proto::scrape::Scrape;

async fn scrape(node: &Client) -> Scrape {
    grid_testkit::metrics::scrape(&node.url("")).await
}

fn restarts(s: &Scrape, server: &str, reason: &str) -> Option<f64> {
    s.value(
        "gridnode_server_restarts",
        &[("server", server), ("reason", reason)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_restarts_backoff_and_start_latency() {
    // Exits with status 3 on its first four runs, then stays up: four restarts, the last
    // ones after a backoff (base 200 ms: the fourth waits 400 to 800 ms).
    let crash = sh(
        "Crash",
        "n=$(cat crash.count 2>/dev/null || echo 0); echo $((n + 1)) > crash.count; \
         [ \"$n\" -ge 4 ] && exec sleep 1000; exit 3",
        1000,
    );
    let mut ad = sh("Ad", "exec sleep 1000", 1000);
    ad.descriptor.activation_timeout_ms = 60_000;
    ad.descriptor.adapters = vec![AdapterDescriptor {
        name: "Adapter".into(),
        id: "Ad.Adapter".into(),
        replica_group: None,
    }];
    let (mut env, _seen) = assigned(
        "metrics",
        vec![sh("Loop", "exec sleep 1000", 1000), crash, ad],
    )
    .await;
    let node = env.start_node().await;

    let waiting = wait_for("Crash in backoff", async || {
        let s = scrape(&node).await;
        (s.value("gridnode_servers_in_backoff", &[]) == Some(1.0)).then_some(s)
    })
    .await;
    let left = waiting
        .value("gridnode_server_backoff_seconds", &[("server", "Crash")])
        .unwrap();
    assert!(left > 0.0 && left <= 2.0, "{left}");
    assert_eq!(
        waiting.value("gridnode_server_backoff_seconds", &[("server", "Loop")]),
        Some(0.0)
    );

    let pid = wait_active(&node, "Loop").await.pid.unwrap();
    sigkill(pid);
    wait_for("Loop restarted", async || {
        active(&node, "Loop").await.filter(|r| r.pid != Some(pid))
    })
    .await;
    let ad_pid = wait_for("Ad spawned", async || {
        runtime(&node, "Ad").await.and_then(|r| r.pid)
    })
    .await;
    let token = wait_for("Ad's token", async || env_var(ad_pid, "GRID_READY_TOKEN")).await;
    let report = ReadyReport {
        token,
        endpoints: BTreeMap::from([("Adapter".into(), "http://127.0.0.1:9".into())]),
    };
    let anon = Client::new(node.base(), "server").unwrap();
    let _: serde_json::Value = anon.post("/v1/servers/Ad/ready", &report).await.unwrap();
    let crash = wait_for("Crash up for good", async || {
        active(&node, "Crash")
            .await
            .filter(|r| r.restart_count == 4)
    })
    .await;
    assert_eq!(crash.last_exit.as_deref(), Some("exit status 3"));

    let s = scrape(&node).await;
    assert_eq!(
        s.kind("gridnode_server_restarts").as_deref(),
        Some("counter")
    );
    assert_eq!(restarts(&s, "Crash", "exit"), Some(4.0));
    assert_eq!(restarts(&s, "Loop", "signal"), Some(1.0));
    assert_eq!(s.series("gridnode_server_restarts", &[]), 2);
    assert_values(
        &s,
        &[
            ("gridnode_servers", &[("state", "active")], 3.0),
            ("gridnode_servers", &[("state", "inactive")], 0.0),
            ("gridnode_servers_in_backoff", &[], 0.0),
        ],
    );
    assert_eq!(s.sum("gridnode_server_backoff_seconds", &[]), 0.0);
    let started = s
        .histogram(
            "gridnode_server_start_duration_seconds",
            &[("server", "Ad")],
        )
        .unwrap();
    assert_eq!(started.count, 1);
    assert!(started.sum > 0.0 && started.sum < 60.0, "{started:?}");
    // Servers without adapters are active at spawn: no start latency to measure.
    assert_eq!(s.series("gridnode_server_start_duration_seconds", &[]), 1);
}
