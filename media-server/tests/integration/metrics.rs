//! `GET /metrics` of the real binary, parsed as OpenMetrics: the stream routes' requests and
//! bytes, and a relay channel's listeners, joins, cut-offs, bytes and reconnects after its
//! upstream is killed and restarted.

use std::time::{Duration, Instant};

use grid_proto::live::SourceState;
use grid_proto::scrape::Scrape;

use crate::helper::{DEADLINE, Live, Server, scrape, stats, wait_source, wait_until};
use crate::live::{Listener, stalled_listener};

fn channel(name: &str) -> [(&'static str, &str); 1] {
    [("channel", name)]
}

/// Asserts the value of each of channel `name`'s families in `want`.
#[track_caller]
fn assert_channel(s: &Scrape, name: &str, want: &[(&str, f64)]) {
    for &(family, value) in want {
        assert_eq!(s.value(family, &channel(name)), Some(value), "{family}");
    }
}

/// The length of `GET path`'s body.
async fn body_len(server: &Server, path: &str) -> usize {
    server.get(path).await.bytes().await.unwrap().len()
}

#[tokio::test]
async fn metrics_count_stream_reads_and_a_relay_channel() {
    let live = Live::new("");
    let mut upstream = live.start().await;
    let upstream_addr = upstream.addr.clone();
    let relay = live.start_relay(&upstream_addr, 1000).await;

    let fresh = scrape(&relay).await;
    assert_eq!(fresh.value("mediaserver_streams_open", &[]), Some(0.0));
    assert_eq!(fresh.value("mediaserver_tracks", &[]), Some(2.0));
    assert_eq!(
        fresh.value("mediaserver_served_bytes", &[("route", "chunk")]),
        Some(0.0)
    );
    assert_eq!(fresh.unit("mediaserver_served_bytes"), Some("bytes"));

    // Two chunks of 1000 bytes, a chunk of a render without a stream, a /data window of 3000
    // bytes and 100 bytes of a track's audio by Range.
    let track = relay.tracks().await[0].id.clone();
    assert_eq!(relay.open(&track, "r1", 0).await.status(), 200);
    for _ in 0..2 {
        let body = body_len(&relay, "/v1/streams/r1/chunk?size=1000").await;
        assert_eq!(body, 1000);
    }
    assert_eq!(relay.get("/v1/streams/nobody/chunk").await.status(), 404);
    let data = body_len(&relay, "/v1/streams/r1/data?offset=2000&limit=3000").await;
    assert_eq!(data, 3000);
    let audio = relay
        .http
        .get(relay.url(&format!("/v1/tracks/{track}/audio")))
        .header("range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(audio.status(), 206);
    assert_eq!(audio.bytes().await.unwrap().len(), 100);
    let s = scrape(&relay).await;
    assert_eq!(s.value("mediaserver_streams_opened", &[]), Some(1.0));
    assert_eq!(s.value("mediaserver_streams_open", &[]), Some(1.0));
    for (family, route, n) in [
        ("mediaserver_stream_requests", "chunk", 3.0),
        ("mediaserver_stream_requests", "data", 1.0),
        ("mediaserver_served_bytes", "chunk", 2000.0),
        ("mediaserver_served_bytes", "data", 3000.0),
        ("mediaserver_served_bytes", "audio", 100.0),
    ] {
        assert_eq!(
            s.value(family, &[("route", route)]),
            Some(n),
            "{family} {route}"
        );
    }

    // One listener that reads, one that never does: it is cut off, the other stays.
    wait_source(&relay, "relay", SourceState::Playing).await;
    let (mut reader, _) = Listener::connect(&relay, "/live/relay", true).await;
    let _stalled = stalled_listener(&relay, "/live/relay").await;
    let deadline = Instant::now() + 2 * DEADLINE;
    let mut heard = 0;
    let s = loop {
        heard += reader.read_for(Duration::from_millis(300)).await;
        let s = scrape(&relay).await;
        if s.value("mediaserver_channel_cut_offs", &channel("relay")) == Some(1.0) {
            break s;
        }
        assert!(Instant::now() < deadline, "never cut off");
    };
    assert_channel(
        &s,
        "relay",
        &[
            ("mediaserver_channel_joins", 2.0),
            ("mediaserver_channel_listeners", 1.0),
            ("mediaserver_channel_source_reconnects", 0.0),
        ],
    );
    let sent = s
        .value("mediaserver_channel_sent_bytes", &channel("relay"))
        .unwrap();
    assert!(sent >= heard as f64, "{sent} sent, {heard} heard");

    // The upstream dies and comes back on its port: one reconnect, and the relay is its
    // tree child again.
    upstream.kill_hard();
    wait_source(&relay, "relay", SourceState::Reconnecting).await;
    let upstream = live.start_at(&upstream_addr).await;
    wait_until("the relay to reconnect", || async {
        let s = stats(&relay, "relay").await;
        s.source.state == SourceState::Playing && s.source.reconnects == 1
    })
    .await;
    assert_channel(
        &scrape(&relay).await,
        "relay",
        &[("mediaserver_channel_source_reconnects", 1.0)],
    );
    wait_until("the relay a child of the new upstream", || async {
        stats(&upstream, "test").await.tree.children.len() == 1
    })
    .await;
    let up = scrape(&upstream).await;
    assert_channel(
        &up,
        "test",
        &[
            ("mediaserver_channel_relay_children", 1.0),
            ("mediaserver_channel_source_reconnects", 0.0),
        ],
    );
    assert_eq!(
        up.kind("mediaserver_channel_joins").as_deref(),
        Some("counter")
    );
    assert_eq!(
        up.kind("mediaserver_channel_listeners").as_deref(),
        Some("gauge")
    );
}
