use grid_proto::api::{HostInfo, Load};
use grid_proto::descriptor::{Activation, AdapterDescriptor};

use super::*;

fn view(state: ServerState, pid: Option<u32>) -> ServerView {
    grid_testkit::views::server_view("MediaServer-1", state, pid)
}

#[test]
fn state_lines() {
    assert_eq!(
        state_line(&view(ServerState::Active, Some(4321))),
        "active (pid 4321)"
    );
    assert_eq!(state_line(&view(ServerState::Inactive, None)), "inactive");
    let mut v = view(ServerState::Inactive, None);
    v.enabled = false;
    v.stopped = true;
    v.runtime.failure = Some("exit status 1, 5 restarts".into());
    assert_eq!(
        state_line(&v),
        "inactive, disabled, stopped by admin; failure: exit status 1, 5 restarts"
    );
    let mut v = view(ServerState::Active, Some(7));
    v.node_up = false;
    assert_eq!(state_line(&v), "active (pid 7), node node1 down");
}

#[test]
fn server_table_marks_down_nodes() {
    let mut down = view(ServerState::Active, Some(99));
    down.id = "MediaServer-2".into();
    down.node = "node2".into();
    down.node_up = false;
    let text = server_table(&[view(ServerState::Active, Some(4321)), down]);
    assert_eq!(
        text,
        "ID             APPLICATION  NODE   STATE               PID   ACTIVATION\n\
         MediaServer-1  Spotifice    node1  active              4321  always\n\
         MediaServer-2  Spotifice    node2  active (node down)  99    always\n"
    );
}

#[test]
fn server_describe_shows_descriptor_and_runtime() {
    let mut v = view(ServerState::Active, Some(4321));
    v.runtime.endpoints.insert(
        "MediaServer-1.Adapter".into(),
        "http://127.0.0.1:5000".into(),
    );
    let detail = ServerDetail {
        view: v,
        descriptor: ServerDescriptor {
            id: "MediaServer-1".into(),
            application: "Spotifice".into(),
            node: "node1".into(),
            exe: "media-server".into(),
            args: vec!["--library".into(), "my media".into()],
            env: Default::default(),
            pwd: None,
            activation: Activation::Always,
            activation_timeout_ms: 10_000,
            deactivation_timeout_ms: 2_500,
            log: Some("mediaserver1.log".into()),
            adapters: vec![AdapterDescriptor {
                name: "Adapter".into(),
                id: "MediaServer-1.Adapter".into(),
                replica_group: Some("MediaServerGroup".into()),
            }],
        },
    };
    let text = server_describe(&detail);
    for want in [
        "command:              media-server --library 'my media'\n",
        "deactivation timeout: 2.5 s\n",
        "pid:                  4321\n",
        "log:                  mediaserver1.log\n",
        "  Adapter  MediaServer-1.Adapter  MediaServerGroup  http://127.0.0.1:5000\n",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
}

#[test]
fn node_views() {
    let node = NodeView {
        name: "node1".into(),
        up: true,
        endpoint: "http://127.0.0.1:7001".into(),
        address: "127.0.0.1".into(),
        host: HostInfo {
            hostname: "box".into(),
            os: "Linux 6".into(),
            kernel: "6.1".into(),
            arch: "x86_64".into(),
            cpus: 4,
        },
        load: Load {
            load1: 0.5,
            load5: 0.25,
            load15: 1.0,
            memory_used: 512 * 1024 * 1024,
            memory_total: 2048 * 1024 * 1024,
        },
        last_seen_ms_ago: 400,
        servers: vec!["MediaServer-1".into()],
    };
    assert_eq!(load_line(&node), "0.50 0.25 1.00");
    let text = node_show(&node, Some(&[view(ServerState::Active, Some(1))]));
    for want in [
        "state:        up (last seen 0.4 s ago)\n",
        "memory:       512 MiB used of 2048 MiB\n",
        "  MediaServer-1  active (pid 1)\n",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
    let status = NodeStatus {
        name: "node1".into(),
        uptime_s: 12,
        assignment_serial: 1,
        servers: vec![],
    };
    assert_eq!(ping_line(&status), "node1 is up (uptime 12 s)");
}

#[test]
fn application_views() {
    let apps = [ApplicationSummary {
        name: "Spotifice".into(),
        serial: 3,
        servers: 4,
        updated_ms: 1_000,
    }];
    assert_eq!(application_names(&apps), "Spotifice\n");
    let diff = ApplicationDiff {
        name: "Spotifice".into(),
        exists: true,
        added: vec!["A".into()],
        removed: vec![],
        changed: vec!["B".into(), "C".into()],
        unchanged: vec!["D".into()],
    };
    assert_eq!(
        diff_text(&diff),
        "application Spotifice (deployed)\n\
         added:     A\n\
         removed:   -\n\
         changed:   B, C\n\
         unchanged: D\n"
    );
    let changed = ApplicationChanged {
        name: "Spotifice".into(),
        serial: 4,
        diff,
    };
    assert_eq!(
        changed_text("updated", &changed),
        "application Spotifice updated (serial 4)\n  added:   A\n  changed: B, C\n"
    );
}

fn channel(name: &str, title: &str) -> ChannelStats {
    serde_json::from_value(serde_json::json!({
        "name": name, "kind": "playlist", "description": "Ambient, slowly",
        "genre": "Ambient", "bitrate_kbps": 128, "metaint": 16000, "listeners": 3,
        "listeners_peak": 12, "joins": 40, "bytes_out": 5_242_880, "cut_offs": 2,
        "title": title,
        "source": {"state": "playing", "upstream": null, "track_id": "00000000000000a1",
                   "reconnects": 0, "segments": 900, "gaps": 0, "duplicates": 0},
        "uptime_ms": 303_000,
        "tree": {"url": "http://10.0.0.1:8000/live/lounge", "path": [],
                 "children": ["http://10.0.0.2:8000/live/lounge"], "max_children": 2,
                 "redirects": 4, "loops_refused": 0, "descendants": 3}
    }))
    .unwrap()
}

#[test]
fn byte_counts() {
    assert_eq!(bytes(0), "0 B");
    assert_eq!(bytes(1023), "1023 B");
    assert_eq!(bytes(1536), "1.5 KiB");
    assert_eq!(bytes(5_242_880), "5.0 MiB");
    assert_eq!(bytes(3 << 30), "3.0 GiB");
}

#[test]
fn channel_list_has_every_server_and_says_which_did_not_answer() {
    let mut relay = channel("relay-lounge", "");
    relay.kind = ChannelKind::Relay;
    relay.source.state = SourceState::Reconnecting;
    relay.bytes_out = 100;
    let servers = [
        ServerChannels {
            server: "MediaServer-1".into(),
            channels: Ok(vec![channel("lounge", "Vega Lines - Night Transit"), relay]),
        },
        ServerChannels {
            server: "MediaServer-2".into(),
            channels: Err("MediaServer MediaServer-2 is unreachable: refused".into()),
        },
        ServerChannels {
            server: "MediaServer-3".into(),
            channels: Ok(vec![channel("lounge", "Vega Lines - Night Transit")]),
        },
    ];
    assert_eq!(
        channel_table(&servers),
        "SERVER         CHANNEL       KIND      LISTENERS  PEAK  BYTES-OUT  CUT-OFFS  SOURCE        TITLE\n\
         MediaServer-1  lounge        playlist  3          12    5.0 MiB    2         playing       Vega Lines - Night Transit\n\
         MediaServer-1  relay-lounge  relay     3          12    100 B      2         reconnecting  -\n\
         MediaServer-3  lounge        playlist  3          12    5.0 MiB    2         playing       Vega Lines - Night Transit\n\
         MediaServer-2: no answer (MediaServer MediaServer-2 is unreachable: refused)\n"
    );
    let none = [ServerChannels {
        server: "MediaServer-1".into(),
        channels: Ok(Vec::new()),
    }];
    assert_eq!(channel_table(&none), "no channels\n");
}

#[test]
fn channel_show_is_a_block_per_server() {
    let servers = [
        ServerChannel {
            server: "MediaServer-1".into(),
            channel: Ok(Some(channel("lounge", "A - B"))),
        },
        ServerChannel {
            server: "MediaServer-2".into(),
            channel: Ok(None),
        },
        ServerChannel {
            server: "MediaServer-3".into(),
            channel: Err("timed out".into()),
        },
    ];
    assert_eq!(
        channel_show("lounge", &servers),
        "MediaServer-1:\n\
        \x20 name:           lounge\n\
        \x20 kind:           playlist\n\
        \x20 description:    Ambient, slowly\n\
        \x20 genre:          Ambient\n\
        \x20 bitrate:        128 kbit/s\n\
        \x20 metaint:        16000 bytes\n\
        \x20 title:          A - B\n\
        \x20 listeners:      3\n\
        \x20 listeners peak: 12\n\
        \x20 joins:          40\n\
        \x20 bytes out:      5242880 (5.0 MiB)\n\
        \x20 cut-offs:       2\n\
        \x20 source:         playing\n\
        \x20 upstream:       -\n\
        \x20 track:          00000000000000a1\n\
        \x20 reconnects:     0\n\
        \x20 segments:       900\n\
        \x20 gaps:           0\n\
        \x20 duplicates:     0\n\
        \x20 url:            http://10.0.0.1:8000/live/lounge\n\
        \x20 tree path:      root\n\
        \x20 children:       1 of 2: http://10.0.0.2:8000/live/lounge\n\
        \x20 relays below:   3\n\
        \x20 redirects:      4\n\
        \x20 loops refused:  0\n\
        \x20 uptime:         5 min 3 s\n\
        \x20 udp clients:    0\n\
        \x20 udp datagrams:  0\n\
        \x20 udp bytes:      0 (0 B)\n\
        \n\
        MediaServer-2: no channel 'lounge'\n\
        MediaServer-3: no answer (timed out)\n"
    );
}
