//! The real `gridregistry` binary on a free port: sessions, validation, persistence across
//! `kill -9`, the node secret, and the node liveness timeout.

use std::time::Duration;

use grid_proto::api::{
    ApplicationChanged, ApplicationSummary, DescriptorSource, Load, LocateReply, NodeRegistered,
    ServerRuntime, ServerState, ServerView,
};
use grid_proto::client::Client;
use grid_proto::paths;
use grid_proto::sse::SseDecoder;

use crate::helper::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_validation_and_persistence_across_kill_9() {
    let (_tmp, data, reg) = fresh(60_000);

    // A wrong password is a 401 with a clear message.
    let err = login(&reg.url, "wrong").await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.to_string(), "wrong user name or password");
    let admin = login(&reg.url, "admin").await.unwrap();

    let added = add(&admin, APP).await;
    assert_eq!(added.serial, 1);
    assert_eq!(added.diff.added, ["MediaServer-1", "MediaServer-2"]);

    // A bad descriptor names the field and changes nothing.
    let bad = APP.replace(
        "template = \"MS\"\nparameters = { index = \"2\" }",
        "template = \"Nope\"",
    );
    let err = admin
        .put::<_, ApplicationChanged>(
            &paths::fill(paths::APPLICATION, &["Spotifice"]),
            &DescriptorSource { source: bad },
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        err.to_string(),
        "invalid descriptor: nodes.node2.server-instances[0].template: unknown template 'Nope'"
    );
    let apps: Vec<ApplicationSummary> = admin.get(paths::APPLICATIONS).await.unwrap();
    assert_eq!((apps.len(), apps[0].serial, apps[0].servers), (1, 1, 2));

    // Stop intent is persisted.
    let _: ServerView = admin
        .post(
            &paths::fill(paths::SERVER_ACTION, &["MediaServer-2", "disable"]),
            &(),
        )
        .await
        .unwrap();

    // The node API needs the cluster secret.
    let secret = std::fs::read_to_string(data.join("cluster.secret")).unwrap();
    let wrong = Client::new(&reg.url, "registry")
        .unwrap()
        .secret("nope")
        .unwrap();
    let err = wrong
        .post::<_, NodeRegistered>(
            &paths::fill(paths::NODE_REGISTER, &["node1"]),
            &register_body(vec![]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(401));

    // kill -9 and restart on the same data: applications, flags, users and secret intact.
    let listen = reg.url.trim_start_matches("http://").to_owned();
    drop(reg);
    let reg = start(&data, &listen, 60_000);
    assert_eq!(
        std::fs::read_to_string(data.join("cluster.secret")).unwrap(),
        secret
    );
    let admin = login(&reg.url, "admin").await.unwrap();
    let apps: Vec<ApplicationSummary> = admin.get(paths::APPLICATIONS).await.unwrap();
    assert_eq!((apps[0].name.as_str(), apps[0].serial), ("Spotifice", 1));
    let servers: Vec<ServerView> = admin.get(paths::SERVERS).await.unwrap();
    assert_eq!(
        servers
            .iter()
            .map(|s| (s.id.as_str(), s.enabled))
            .collect::<Vec<_>>(),
        [("MediaServer-1", true), ("MediaServer-2", false)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locate_follows_node_reports_and_liveness() {
    let (_tmp, data, reg) = fresh(400);
    let admin = login(&reg.url, "admin").await.unwrap();
    let _ = add(&admin, APP).await;
    let node = as_node(&reg.url, &data);
    let active = |id: &str, port: u16| ServerRuntime {
        id: id.into(),
        state: ServerState::Active,
        pid: Some(4321),
        endpoints: [(format!("{id}.Adapter"), format!("http://127.0.0.1:{port}"))].into(),
        ..Default::default()
    };
    let reply: NodeRegistered = register(&node, "node1", vec![active("MediaServer-1", 1111)]).await;
    assert_eq!(reply.assignment.servers.len(), 1);
    assert_eq!(reply.assignment.servers[0].descriptor.id, "MediaServer-1");
    let _: NodeRegistered = register(&node, "node2", vec![active("MediaServer-2", 2222)]).await;
    assert_eq!(
        located(&admin, "MediaServerGroup").await,
        ["http://127.0.0.1:1111", "http://127.0.0.1:2222"]
    );
    // Clients without a session list the adapters, as they locate.
    let anon = Client::new(&reg.url, "registry").unwrap();
    let adapters: Vec<grid_proto::api::AdapterView> = anon.get(paths::ADAPTERS).await.unwrap();
    assert_eq!(adapters.len(), 2, "{adapters:?}");

    // node2 keeps sending heartbeats, node1 stops: node1's adapter leaves locate results.
    let hb = grid_proto::api::Heartbeat {
        load: Load::default(),
        assignment_serial: reply.assignment.serial,
    };
    wait_for("node1 marked down", Duration::from_secs(20), async || {
        let _: grid_proto::api::HeartbeatReply = node
            .post(&paths::fill(paths::NODE_HEARTBEAT, &["node2"]), &hb)
            .await
            .unwrap();
        (located(&admin, "MediaServerGroup").await == ["http://127.0.0.1:2222"]).then_some(())
    })
    .await;
    // A node marked down must register again, with its full state.
    let err = node
        .post::<_, grid_proto::api::HeartbeatReply>(
            &paths::fill(paths::NODE_HEARTBEAT, &["node1"]),
            &hb,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert!(located(&admin, "MediaServer-1.Adapter").await.is_empty());
    let err = admin
        .get::<LocateReply>(&paths::fill(paths::LOCATE, &["Nope"]))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.to_string().as_str()),
        (Some(404), "unknown adapter or replica group 'Nope'")
    );
}

/// Reads server-sent events until `n` have arrived (each the JSON of its `data:` line).
async fn next_events(
    resp: &mut reqwest::Response,
    decoder: &mut SseDecoder,
    n: usize,
) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut out: Vec<serde_json::Value> = Vec::new();
    let mut take = |decoder: &mut SseDecoder| {
        out.extend(
            std::iter::from_fn(|| decoder.next_event().unwrap())
                .map(|e| serde_json::from_str::<serde_json::Value>(&e.data).unwrap()),
        );
        out.len()
    };
    while take(decoder) < n {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => decoder.feed(&chunk),
            Ok(Ok(None)) => panic!("the stream ended"),
            Ok(Err(e)) => panic!("the stream broke: {e}"),
            Err(_) => panic!("no event in time"),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_start_with_a_snapshot_then_follow_every_change() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = start(&data_dir(&tmp), "127.0.0.1:0", 60_000);
    let admin = login(&reg.url, "admin").await.unwrap();
    let mut resp = reqwest::get(format!("{}{}", reg.url, paths::EVENTS))
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut buf = SseDecoder::new();
    let first = next_events(&mut resp, &mut buf, 1).await;
    assert_eq!(first[0]["type"], "snapshot");
    let base = first[0]["serial"].as_u64().unwrap();

    let _ = add(&admin, APP).await;
    let _: ApplicationChanged = admin
        .put(
            &paths::fill(paths::APPLICATION, &["Spotifice"]),
            &DescriptorSource {
                source: APP.replace("ordered", "random"),
            },
        )
        .await
        .unwrap();
    let _: ApplicationChanged = admin
        .delete(&paths::fill(paths::APPLICATION, &["Spotifice"]))
        .await
        .unwrap();
    let events = next_events(&mut resp, &mut buf, 3).await;
    let kinds: Vec<_> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["serial"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("application-added", base + 1),
            ("application-updated", base + 2),
            ("application-removed", base + 3)
        ]
    );
    assert_eq!(events[1]["name"], "Spotifice");
}
