//! How each resource reads for a person: state lines, tables and `key: value` blocks.

use grid_proto::api::{
    AdapterView, ApplicationChanged, ApplicationDetail, ApplicationDiff, ApplicationSummary,
    LocateReply, NodeStatus, NodeView, RegistryInfo, ServerDetail, ServerState, ServerView,
};
use grid_proto::descriptor::ServerDescriptor;
use grid_proto::live::{ChannelKind, ChannelStats, SourceState};

use super::{duration_s, indent, key_values, list, table, time_ms};

/// `active (pid 4321)`, `inactive, stopped by admin`, `inactive, disabled; failure: ...`.
pub fn state_line(server: &ServerView) -> String {
    let rt = &server.runtime;
    let mut line = rt.state.to_string();
    if let Some(pid) = rt.pid {
        line.push_str(&format!(" (pid {pid})"));
    }
    if !server.enabled {
        line.push_str(", disabled");
    }
    if server.stopped {
        line.push_str(", stopped by admin");
    }
    if !server.node_up {
        line.push_str(&format!(", node {} down", server.node));
    }
    if let Some(failure) = &rt.failure {
        line.push_str(&format!("; failure: {failure}"));
    }
    line
}

/// Is there a process to speak of?
pub fn is_running(state: ServerState) -> bool {
    matches!(
        state,
        ServerState::Activating | ServerState::Active | ServerState::Deactivating
    )
}

/// `server list`.
pub fn server_table(servers: &[ServerView]) -> String {
    let rows: Vec<Vec<String>> = servers
        .iter()
        .map(|s| {
            let mut state = s.runtime.state.to_string();
            if !s.node_up {
                state.push_str(" (node down)");
            }
            if !s.enabled {
                state.push_str(" (disabled)");
            }
            vec![
                s.id.clone(),
                s.application.clone(),
                s.node.clone(),
                state,
                s.runtime.pid.map_or_else(|| "-".into(), |p| p.to_string()),
                s.activation.as_str().to_owned(),
            ]
        })
        .collect();
    table(
        &["ID", "APPLICATION", "NODE", "STATE", "PID", "ACTIVATION"],
        &rows,
    )
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

fn millis(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn command_line(d: &ServerDescriptor) -> String {
    let words = std::iter::once(d.exe.as_str()).chain(d.args.iter().map(String::as_str));
    shlex::try_join(words).unwrap_or_else(|_| {
        std::iter::once(d.exe.clone())
            .chain(d.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

/// `server describe`: every descriptor field, then the run-time state.
pub fn server_describe(detail: &ServerDetail) -> String {
    let (v, d, rt) = (&detail.view, &detail.descriptor, &detail.view.runtime);
    let env: Vec<String> = d.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut out = key_values(&[
        ("id", v.id.clone()),
        ("application", v.application.clone()),
        (
            "node",
            format!("{} ({})", v.node, if v.node_up { "up" } else { "down" }),
        ),
        ("exe", d.exe.clone()),
        ("command", command_line(d)),
        ("env", list(&env)),
        ("pwd", d.pwd.clone().unwrap_or_else(|| "-".into())),
        ("activation", d.activation.as_str().to_owned()),
        ("activation timeout", millis(d.activation_timeout_ms)),
        ("deactivation timeout", millis(d.deactivation_timeout_ms)),
        ("log", d.log.clone().unwrap_or_else(|| "-".into())),
        ("enabled", yes_no(v.enabled)),
        ("stopped by admin", yes_no(v.stopped)),
        ("state", rt.state.to_string()),
        ("pid", rt.pid.map_or_else(|| "-".into(), |p| p.to_string())),
        ("started", rt.started_ms.map_or_else(|| "-".into(), time_ms)),
        ("restart count", rt.restart_count.to_string()),
        (
            "last exit",
            rt.last_exit.clone().unwrap_or_else(|| "-".into()),
        ),
        ("failure", rt.failure.clone().unwrap_or_else(|| "-".into())),
        (
            "next restart",
            rt.next_restart_ms.map_or_else(|| "-".into(), time_ms),
        ),
    ]);
    out.push_str("adapters:\n");
    if d.adapters.is_empty() {
        out.push_str("  -\n");
    } else {
        let rows: Vec<Vec<String>> = d
            .adapters
            .iter()
            .map(|a| {
                vec![
                    a.name.clone(),
                    a.id.clone(),
                    a.replica_group.clone().unwrap_or_else(|| "-".into()),
                    rt.endpoints
                        .get(&a.id)
                        .cloned()
                        .unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        out.push_str(&indent(
            &table(&["NAME", "ID", "GROUP", "ENDPOINT"], &rows),
            2,
        ));
    }
    // Endpoints the node reported that the descriptor does not name (kept, not hidden).
    let extra: Vec<String> = rt
        .endpoints
        .iter()
        .filter(|(id, _)| !d.adapters.iter().any(|a| &a.id == *id))
        .map(|(id, url)| format!("{id} {url}"))
        .collect();
    if !extra.is_empty() {
        out.push_str("other endpoints:\n");
        out.push_str(&indent(&extra.join("\n"), 2));
    }
    out
}

/// `node list --long`.
pub fn node_table(nodes: &[NodeView]) -> String {
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            vec![
                n.name.clone(),
                if n.up { "up" } else { "down" }.into(),
                n.host.hostname.clone(),
                format!("{:.2}", n.load.load1),
                n.servers.len().to_string(),
                n.endpoint.clone(),
            ]
        })
        .collect();
    table(
        &["NAME", "STATE", "HOSTNAME", "LOAD1", "SERVERS", "ENDPOINT"],
        &rows,
    )
}

/// `node load`: `0.52 0.48 0.40`.
pub fn load_line(node: &NodeView) -> String {
    let l = &node.load;
    format!("{:.2} {:.2} {:.2}", l.load1, l.load5, l.load15)
}

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

fn seconds_ago(ms: u64) -> String {
    if ms < 60_000 {
        format!("{:.1} s ago", ms as f64 / 1000.0)
    } else {
        format!("{} ago", duration_s(ms / 1000))
    }
}

/// `node show`; with `servers`, `node describe` adds each server's state.
pub fn node_show(node: &NodeView, servers: Option<&[ServerView]>) -> String {
    let (h, l) = (&node.host, &node.load);
    let mut out = key_values(&[
        ("name", node.name.clone()),
        (
            "state",
            format!(
                "{} (last seen {})",
                if node.up { "up" } else { "down" },
                seconds_ago(node.last_seen_ms_ago)
            ),
        ),
        ("hostname", h.hostname.clone()),
        ("os", h.os.clone()),
        ("kernel", h.kernel.clone()),
        ("arch", h.arch.clone()),
        ("cpus", h.cpus.to_string()),
        (
            "load average",
            format!("{:.2} {:.2} {:.2}", l.load1, l.load5, l.load15),
        ),
        (
            "memory",
            format!(
                "{} MiB used of {} MiB",
                mib(l.memory_used),
                mib(l.memory_total)
            ),
        ),
        ("endpoint", node.endpoint.clone()),
        ("address", node.address.clone()),
        ("servers", list(&node.servers)),
    ]);
    if let Some(servers) = servers {
        let rows: Vec<Vec<String>> = servers
            .iter()
            .filter(|s| s.node == node.name)
            .map(|s| vec![s.id.clone(), state_line(s)])
            .collect();
        if !rows.is_empty() {
            out.push_str("server states:\n");
            out.push_str(&indent(&table(&["ID", "STATE"], &rows), 2));
        }
    }
    out
}

/// `node ping`: `node1 is up (uptime 12 s)`.
pub fn ping_line(status: &NodeStatus) -> String {
    format!(
        "{} is up (uptime {})",
        status.name,
        duration_s(status.uptime_s)
    )
}

/// `adapter list`.
pub fn adapter_table(adapters: &[AdapterView]) -> String {
    let rows: Vec<Vec<String>> = adapters
        .iter()
        .map(|a| {
            vec![
                a.id.clone(),
                a.server.clone(),
                a.node.clone(),
                a.replica_group.clone().unwrap_or_else(|| "-".into()),
                a.endpoint.clone().unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&["ID", "SERVER", "NODE", "GROUP", "ENDPOINT"], &rows)
}

/// `adapter endpoints`: one URL per line.
pub fn endpoint_lines(reply: &LocateReply) -> String {
    reply
        .endpoints
        .iter()
        .map(|e| format!("{}\n", e.endpoint))
        .collect()
}

/// `application list`: names only.
pub fn application_names(apps: &[ApplicationSummary]) -> String {
    apps.iter().map(|a| format!("{}\n", a.name)).collect()
}

/// `application list --long`.
pub fn application_table(apps: &[ApplicationSummary]) -> String {
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.serial.to_string(),
                a.servers.to_string(),
                time_ms(a.updated_ms),
            ]
        })
        .collect();
    table(&["NAME", "SERIAL", "SERVERS", "UPDATED"], &rows)
}

/// `application describe`.
pub fn application_describe(app: &ApplicationDetail) -> String {
    let mut out = key_values(&[
        ("name", app.name.clone()),
        ("serial", app.serial.to_string()),
        ("updated", time_ms(app.updated_ms)),
    ]);
    out.push_str("descriptor:\n");
    out.push_str(&indent(app.source.trim_end(), 2));
    out.push_str("servers:\n");
    let rows: Vec<Vec<String>> = app
        .servers
        .iter()
        .map(|s| {
            let adapters: Vec<String> = s.adapters.iter().map(|a| a.id.clone()).collect();
            vec![
                s.id.clone(),
                s.node.clone(),
                s.activation.as_str().to_owned(),
                list(&adapters),
                command_line(s),
            ]
        })
        .collect();
    out.push_str(&indent(
        &table(&["ID", "NODE", "ACTIVATION", "ADAPTERS", "COMMAND"], &rows),
        2,
    ));
    out
}

/// `application diff`.
pub fn diff_text(diff: &ApplicationDiff) -> String {
    let head = if diff.exists {
        format!("application {} (deployed)", diff.name)
    } else {
        format!("application {} (not deployed)", diff.name)
    };
    format!(
        "{head}\n{}",
        key_values(&[
            ("added", list(&diff.added)),
            ("removed", list(&diff.removed)),
            ("changed", list(&diff.changed)),
            ("unchanged", list(&diff.unchanged)),
        ])
    )
}

/// The answer to add / update / remove: what happened, then the non-empty server changes.
pub fn changed_text(verb: &str, changed: &ApplicationChanged) -> String {
    let mut out = if changed.serial > 0 {
        format!(
            "application {} {verb} (serial {})\n",
            changed.name, changed.serial
        )
    } else {
        format!("application {} {verb}\n", changed.name)
    };
    let d = &changed.diff;
    let pairs: Vec<(&str, String)> = [
        ("added", &d.added),
        ("removed", &d.removed),
        ("changed", &d.changed),
    ]
    .into_iter()
    .filter(|(_, ids)| !ids.is_empty())
    .map(|(k, ids)| (k, ids.join(", ")))
    .collect();
    if pairs.is_empty() {
        out.push_str("  no server changes\n");
    } else {
        out.push_str(&indent(&key_values(&pairs), 2));
    }
    out
}

/// `registry show`.
pub fn registry_show(info: &RegistryInfo) -> String {
    key_values(&[
        ("version", info.version.clone()),
        ("listen", info.listen.clone()),
        ("data dir", info.data_dir.clone()),
        ("uptime", duration_s(info.uptime_s)),
        ("applications", info.applications.to_string()),
        ("nodes", format!("{} ({} up)", info.nodes, info.nodes_up)),
        ("servers", info.servers.to_string()),
        ("event serial", info.event_serial.to_string()),
    ])
}

/// One MediaServer's answer to `GET /v1/channels`: its channels, or why there are none to show.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerChannels {
    /// Server id.
    pub server: String,
    /// Its channels, or the error.
    pub channels: Result<Vec<ChannelStats>, String>,
}

/// One MediaServer's answer to `GET /v1/channels/{name}`: the channel, not there, or an error.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerChannel {
    /// Server id.
    pub server: String,
    /// The channel (`None`: the server does not play it), or the error.
    pub channel: Result<Option<ChannelStats>, String>,
}

/// A byte count for people: `512 B`, `1.5 KiB`, `3.2 MiB`, `1.1 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

fn kind_name(k: ChannelKind) -> &'static str {
    match k {
        ChannelKind::Playlist => "playlist",
        ChannelKind::Relay => "relay",
    }
}

fn source_name(s: SourceState) -> &'static str {
    match s {
        SourceState::Playing => "playing",
        SourceState::Connecting => "connecting",
        SourceState::Reconnecting => "reconnecting",
        SourceState::Silent => "silent",
    }
}

fn dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_owned()
    }
}

/// `channel list`: one row per channel of each server; a server that did not answer is one
/// line under the table.
pub fn channel_table(servers: &[ServerChannels]) -> String {
    let mut rows = Vec::new();
    let mut failed = String::new();
    for s in servers {
        match &s.channels {
            Ok(channels) => {
                for c in channels {
                    rows.push(vec![
                        s.server.clone(),
                        c.name.clone(),
                        kind_name(c.kind).to_owned(),
                        c.listeners.to_string(),
                        c.listeners_peak.to_string(),
                        bytes(c.bytes_out),
                        c.cut_offs.to_string(),
                        source_name(c.source.state).to_owned(),
                        dash(&c.title),
                    ]);
                }
            }
            Err(e) => failed.push_str(&format!("{}: no answer ({e})\n", s.server)),
        }
    }
    let mut out = if rows.is_empty() {
        "no channels\n".to_owned()
    } else {
        table(
            &[
                "SERVER",
                "CHANNEL",
                "KIND",
                "LISTENERS",
                "PEAK",
                "BYTES-OUT",
                "CUT-OFFS",
                "SOURCE",
                "TITLE",
            ],
            &rows,
        )
    };
    out.push_str(&failed);
    out
}

fn channel_block(c: &ChannelStats) -> String {
    let src = &c.source;
    key_values(&[
        ("name", c.name.clone()),
        ("kind", kind_name(c.kind).to_owned()),
        ("description", dash(&c.description)),
        ("genre", dash(&c.genre)),
        ("bitrate", format!("{} kbit/s", c.bitrate_kbps)),
        ("metaint", format!("{} bytes", c.metaint)),
        ("title", dash(&c.title)),
        ("listeners", c.listeners.to_string()),
        ("listeners peak", c.listeners_peak.to_string()),
        ("joins", c.joins.to_string()),
        (
            "bytes out",
            format!("{} ({})", c.bytes_out, bytes(c.bytes_out)),
        ),
        ("cut-offs", c.cut_offs.to_string()),
        ("source", source_name(src.state).to_owned()),
        (
            "upstream",
            src.upstream.clone().unwrap_or_else(|| "-".into()),
        ),
        ("track", src.track_id.clone().unwrap_or_else(|| "-".into())),
        ("reconnects", src.reconnects.to_string()),
        ("segments", src.segments.to_string()),
        ("gaps", src.gaps.to_string()),
        ("duplicates", src.duplicates.to_string()),
        ("url", dash(&c.tree.url)),
        ("tree path", tree_path(c)),
        (
            "children",
            format!(
                "{} of {}{}",
                c.tree.children.len(),
                c.tree.max_children,
                if c.tree.children.is_empty() {
                    String::new()
                } else {
                    format!(": {}", c.tree.children.join(", "))
                }
            ),
        ),
        ("relays below", c.tree.descendants.to_string()),
        ("redirects", c.tree.redirects.to_string()),
        ("loops refused", c.tree.loops_refused.to_string()),
        ("uptime", duration_s(c.uptime_ms / 1000)),
        ("udp clients", c.udp_clients.to_string()),
        ("udp datagrams", c.udp_datagrams.to_string()),
        (
            "udp bytes",
            format!("{} ({})", c.udp_bytes, bytes(c.udp_bytes)),
        ),
    ])
}

/// Where a copy sits in its distribution tree: the chain from the root down to it.
fn tree_path(c: &ChannelStats) -> String {
    match (c.tree.path.is_empty(), c.kind) {
        (true, ChannelKind::Playlist) => "root".to_owned(),
        (true, ChannelKind::Relay) => "-".to_owned(),
        (false, _) => format!("{} > (this)", c.tree.path.join(" > ")),
    }
}

/// `channel show NAME`: a `key: value` block per server that plays it; one line for each
/// server that does not, or did not answer.
pub fn channel_show(name: &str, servers: &[ServerChannel]) -> String {
    let mut out = String::new();
    let mut notes = String::new();
    for s in servers {
        match &s.channel {
            Ok(Some(c)) => {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("{}:\n", s.server));
                out.push_str(&indent(&channel_block(c), 2));
            }
            Ok(None) => notes.push_str(&format!("{}: no channel '{name}'\n", s.server)),
            Err(e) => notes.push_str(&format!("{}: no answer ({e})\n", s.server)),
        }
    }
    if !notes.is_empty() && !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&notes);
    out
}

#[cfg(test)]
mod tests {
    use grid_proto::api::{HostInfo, Load, ServerRuntime};
    use grid_proto::descriptor::{Activation, AdapterDescriptor};

    use super::*;

    fn view(state: ServerState, pid: Option<u32>) -> ServerView {
        ServerView {
            id: "MediaServer-1".into(),
            application: "Spotifice".into(),
            node: "node1".into(),
            node_up: true,
            activation: Activation::Always,
            enabled: true,
            stopped: false,
            runtime: ServerRuntime {
                id: "MediaServer-1".into(),
                state,
                pid,
                ..ServerRuntime::default()
            },
        }
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
}
