//! How each resource reads for a person: state lines, tables and `key: value` blocks.

use grid_proto::api::{
    AdapterView, ApplicationChanged, ApplicationDetail, ApplicationDiff, ApplicationSummary,
    LocateReply, NodeStatus, NodeView, RegistryInfo, ServerDetail, ServerState, ServerView,
};
use grid_proto::descriptor::ServerDescriptor;
use grid_proto::live::{ChannelKind, ChannelStats, SourceState};

use super::{duration_s, indent, key_values, list, table, table_of, time_ms};

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
    table_of(
        &["ID", "APPLICATION", "NODE", "STATE", "PID", "ACTIVATION"],
        servers,
        |s| {
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
        },
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
        out.push_str(&indent(
            &table_of(&["NAME", "ID", "GROUP", "ENDPOINT"], &d.adapters, |a| {
                vec![
                    a.name.clone(),
                    a.id.clone(),
                    a.replica_group.clone().unwrap_or_else(|| "-".into()),
                    rt.endpoints
                        .get(&a.id)
                        .cloned()
                        .unwrap_or_else(|| "-".into()),
                ]
            }),
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
    table_of(
        &["NAME", "STATE", "HOSTNAME", "LOAD1", "SERVERS", "ENDPOINT"],
        nodes,
        |n| {
            vec![
                n.name.clone(),
                if n.up { "up" } else { "down" }.into(),
                n.host.hostname.clone(),
                format!("{:.2}", n.load.load1),
                n.servers.len().to_string(),
                n.endpoint.clone(),
            ]
        },
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
    table_of(
        &["ID", "SERVER", "NODE", "GROUP", "ENDPOINT"],
        adapters,
        |a| {
            vec![
                a.id.clone(),
                a.server.clone(),
                a.node.clone(),
                a.replica_group.clone().unwrap_or_else(|| "-".into()),
                a.endpoint.clone().unwrap_or_else(|| "-".into()),
            ]
        },
    )
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
    table_of(&["NAME", "SERIAL", "SERVERS", "UPDATED"], apps, |a| {
        vec![
            a.name.clone(),
            a.serial.to_string(),
            a.servers.to_string(),
            time_ms(a.updated_ms),
        ]
    })
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
    out.push_str(&indent(
        &table_of(
            &["ID", "NODE", "ACTIVATION", "ADAPTERS", "COMMAND"],
            &app.servers,
            |s| {
                let adapters: Vec<String> = s.adapters.iter().map(|a| a.id.clone()).collect();
                vec![
                    s.id.clone(),
                    s.node.clone(),
                    s.activation.as_str().to_owned(),
                    list(&adapters),
                    command_line(s),
                ]
            },
        ),
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
mod tests;
