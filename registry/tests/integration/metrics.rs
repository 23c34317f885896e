//! `GET /metrics` of the real `gridregistry`: parsed as OpenMetrics, with exact values after
//! logins, a deployment, two nodes (one goes silent), locates of each outcome and an event
//! subscriber.

use std::time::Duration;

use crate::helper::*;
use grid_proto::api::{
    Heartbeat, HeartbeatReply, Load, LocateReply, NodeRegistered, RegistryInfo, ServerRuntime,
    ServerState,
};
use grid_proto::client::Client;
use grid_proto::paths;
use grid_proto::scrape::Scrape;
use grid_testkit::metrics::{assert_values, scrape};

/// Scrapes until `cond` holds, for at most 20 s.
async fn scrape_until(url: &str, what: &str, cond: impl Fn(&Scrape) -> bool) -> Scrape {
    wait_for(what, Duration::from_secs(20), async || {
        Some(scrape(url).await).filter(|s| cond(s))
    })
    .await
}

fn servers(s: &Scrape, state: &str) -> Option<f64> {
    s.value("gridregistry_servers", &[("state", state)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_what_the_registry_does() {
    let (_tmp, data, reg) = fresh(1500);

    let fresh = scrape(&reg.url).await;
    for (family, kind) in [
        ("gridregistry_locate_requests", "counter"),
        ("gridregistry_locate_duration_seconds", "histogram"),
        ("gridregistry_logins", "counter"),
        ("gridregistry_events_published", "counter"),
        ("gridregistry_events_sent", "counter"),
        ("gridregistry_nodes", "gauge"),
        ("gridregistry_servers", "gauge"),
        ("gridregistry_sessions", "gauge"),
        ("gridregistry_event_subscribers", "gauge"),
    ] {
        assert_eq!(fresh.kind(family).as_deref(), Some(kind), "{family}");
    }
    assert_eq!(
        fresh.value("gridregistry_nodes", &[("state", "up")]),
        Some(0.0)
    );
    assert_eq!(servers(&fresh, "inactive"), Some(0.0));
    assert_eq!(fresh.value("gridregistry_sessions", &[]), Some(0.0));

    assert!(login(&reg.url, "wrong").await.is_err());
    let admin = login(&reg.url, "admin").await.unwrap();
    let _ = add(&admin, APP).await;
    let s = scrape(&reg.url).await;
    assert_values(
        &s,
        &[
            ("gridregistry_logins", &[("result", "ok")], 1.0),
            ("gridregistry_logins", &[("result", "denied")], 1.0),
            ("gridregistry_sessions", &[], 1.0),
            ("gridregistry_applications", &[], 1.0),
        ],
    );
    assert_eq!(servers(&s, "inactive"), Some(2.0));

    // node1 reports MediaServer-1 active and keeps beating; node2 reports MediaServer-2
    // activating and goes silent.
    let node = as_node(&reg.url, &data);
    let rt = |id: &str, state| ServerRuntime {
        id: id.into(),
        state,
        pid: Some(4321),
        endpoints: [(format!("{id}.Adapter"), "http://127.0.0.1:1111".to_owned())].into(),
        ..Default::default()
    };
    let reply: NodeRegistered = register(
        &node,
        "node1",
        vec![rt("MediaServer-1", ServerState::Active)],
    )
    .await;
    let _: NodeRegistered = register(
        &node,
        "node2",
        vec![rt("MediaServer-2", ServerState::Activating)],
    )
    .await;
    let beating = tokio::spawn({
        let node = node.clone();
        let hb = Heartbeat {
            load: Load::default(),
            assignment_serial: reply.assignment.serial,
        };
        async move {
            loop {
                let _: Result<HeartbeatReply, _> = node
                    .post(&paths::fill(paths::NODE_HEARTBEAT, &["node1"]), &hb)
                    .await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    let s = scrape_until(&reg.url, "node2 down", |s| {
        s.value("gridregistry_nodes", &[("state", "down")]) == Some(1.0)
    })
    .await;
    assert_eq!(s.value("gridregistry_nodes", &[("state", "up")]), Some(1.0));
    assert_eq!(servers(&s, "active"), Some(1.0));
    assert_eq!(servers(&s, "activating"), Some(1.0));
    assert_eq!(servers(&s, "inactive"), Some(0.0));
    assert_eq!(s.value("gridregistry_adapters_live", &[]), Some(1.0));

    // One locate of each outcome.
    let anon = Client::new(&reg.url, "registry").unwrap();
    let found: LocateReply = anon
        .get(&paths::fill(paths::LOCATE, &["MediaServerGroup"]))
        .await
        .unwrap();
    assert_eq!(found.endpoints.len(), 1);
    let empty: LocateReply = anon
        .get(&paths::fill(paths::LOCATE, &["MediaServer-2.Adapter"]))
        .await
        .unwrap();
    assert!(empty.endpoints.is_empty());
    assert!(
        anon.get::<LocateReply>(&paths::fill(paths::LOCATE, &["Nope"]))
            .await
            .is_err()
    );
    let s = scrape(&reg.url).await;
    for (result, n) in [
        ("found", 1.0),
        ("empty", 1.0),
        ("unknown", 1.0),
        ("failed", 0.0),
    ] {
        assert_eq!(
            s.value("gridregistry_locate_requests", &[("result", result)]),
            Some(n),
            "{result}"
        );
    }
    let latency = s
        .histogram("gridregistry_locate_duration_seconds", &[])
        .unwrap();
    assert_eq!(latency.count, 3);
    assert_eq!(latency.buckets.last().map(|b| b.1), Some(3));
    assert!(latency.sum > 0.0 && latency.sum < 10.0, "{latency:?}");

    // Every event published is counted; a subscriber is served its snapshot. (node1 keeps
    // beating: its going down would be one more event.)
    let info: RegistryInfo = anon.get(paths::REGISTRY).await.unwrap();
    assert_eq!(
        s.value("gridregistry_events_published", &[]),
        Some(info.event_serial as f64)
    );
    let mut events = reqwest::get(format!("{}{}", reg.url, paths::EVENTS))
        .await
        .unwrap();
    let first = events.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("snapshot"));
    let s = scrape(&reg.url).await;
    assert_values(
        &s,
        &[
            ("gridregistry_event_subscribers", &[], 1.0),
            ("gridregistry_events_sent", &[], 1.0),
        ],
    );
    drop(events);
    scrape_until(&reg.url, "the subscriber gone", |s| {
        s.value("gridregistry_event_subscribers", &[]) == Some(0.0)
    })
    .await;
    beating.abort();
}
