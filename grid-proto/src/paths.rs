//! Route paths shared by the routers and the client.
//!
//! Registry routes are under `/v1/`; node routes too, on the node's own listener.

/// `POST` user + password → session token.
pub const SESSIONS: &str = "/v1/sessions";
/// One session, by its public id (`DELETE` revokes it).
pub const SESSION: &str = "/v1/sessions/{id}";
/// `GET`: the asking session's user and role.
pub const WHOAMI: &str = "/v1/whoami";
/// Users: `GET` lists, `POST` adds.
pub const USERS: &str = "/v1/users";
/// One user: `DELETE` removes.
pub const USER: &str = "/v1/users/{name}";
/// `PUT` sets a user's password.
pub const USER_PASSWORD: &str = "/v1/users/{name}/password";
/// `PUT` sets a user's role.
pub const USER_ROLE: &str = "/v1/users/{name}/role";
/// The audit log: `GET ?since=MS&limit=N`.
pub const AUDIT: &str = "/v1/audit";
/// `GET` registry information.
pub const REGISTRY: &str = "/v1/registry";
/// `GET` list / `POST` add applications.
pub const APPLICATIONS: &str = "/v1/applications";
/// `POST` a descriptor to compare with the deployed one.
pub const APPLICATIONS_DIFF: &str = "/v1/applications-diff";
/// `GET` describe / `PUT` update / `DELETE` remove one application.
pub const APPLICATION: &str = "/v1/applications/{name}";
/// `GET` list servers.
pub const SERVERS: &str = "/v1/servers";
/// `GET` describe one server.
pub const SERVER: &str = "/v1/servers/{id}";
/// `POST` an action (start, stop, restart, enable, disable, signal) on one server.
pub const SERVER_ACTION: &str = "/v1/servers/{id}/{action}";
/// `GET` a server's log (query: tail, stderr).
pub const SERVER_LOG: &str = "/v1/servers/{id}/log";
/// `GET` list nodes.
pub const NODES: &str = "/v1/nodes";
/// `GET` show one node.
pub const NODE: &str = "/v1/nodes/{name}";
/// `POST` register a node (cluster secret).
pub const NODE_REGISTER: &str = "/v1/nodes/{name}/register";
/// `POST` a node's heartbeat (cluster secret).
pub const NODE_HEARTBEAT: &str = "/v1/nodes/{name}/heartbeat";
/// `POST` (cluster secret): a certificate of the grid CA for a node (`tls::CertificateRequest`).
pub const NODE_CERTIFICATE: &str = "/v1/nodes/{name}/certificate";
/// `POST` a node's server state change (cluster secret).
pub const NODE_SERVER_STATE: &str = "/v1/nodes/{name}/server-state";
/// `POST` ping a node (the registry asks it) / `POST` shut a node down.
pub const NODE_ACTION: &str = "/v1/nodes/{name}/{action}";
/// `GET` list adapters.
pub const ADAPTERS: &str = "/v1/adapters";
/// `GET` locate an adapter id or replica-group id.
pub const LOCATE: &str = "/v1/locate/{id}";
/// Any method: a request to a server's own API (an adapter id or a replica group), forwarded by
/// the registry for a session (the web console's way to the renders and the library).
pub const GATEWAY: &str = "/v1/gateway/{id}/{*path}";
/// `GET` server-sent events.
pub const EVENTS: &str = "/v1/events";
/// `GET` Prometheus metrics (OpenMetrics text), on every process's HTTP port, unauthenticated.
pub const METRICS: &str = "/metrics";

/// Node: `PUT` the set of servers the node hosts.
pub const NODE_ASSIGNMENT: &str = "/v1/assignment";
/// Node: `POST` start/stop/restart/signal one server.
pub const NODE_SERVER_ACTION: &str = "/v1/servers/{id}/{action}";
/// Node: `GET` a server's log.
pub const NODE_SERVER_LOG: &str = "/v1/servers/{id}/log";
/// Node: `POST` a server reports its endpoints (per-spawn token).
pub const NODE_SERVER_READY: &str = "/v1/servers/{id}/ready";
/// Node: `GET` the node's view of itself (ping).
pub const NODE_STATUS: &str = "/v1/status";
/// Node: `POST` shut the node down.
pub const NODE_SHUTDOWN: &str = "/v1/shutdown";

/// Node: `POST` a server's application event (per-spawn token), forwarded to the registry.
pub const NODE_SERVER_EVENT: &str = "/v1/servers/{id}/event";
/// Registry: `POST` a server event forwarded by a node (cluster secret).
pub const NODE_SERVER_EVENT_FORWARD: &str = "/v1/nodes/{name}/server-event";

/// MediaServer: `GET` the library.
pub const MEDIA_TRACKS: &str = "/v1/tracks";
/// MediaServer: `GET` one track's info.
pub const MEDIA_TRACK: &str = "/v1/tracks/{id}";
/// MediaServer: `GET` a track's audio (Range).
pub const MEDIA_TRACK_AUDIO: &str = "/v1/tracks/{id}/audio";
/// MediaServer: `POST` open a stream.
pub const MEDIA_STREAMS: &str = "/v1/streams";
/// MediaServer: `GET` the next chunk of a render's stream.
pub const MEDIA_STREAM_CHUNK: &str = "/v1/streams/{render}/chunk";
/// MediaServer: `GET` the rest of a render's stream as one streamed body, in chunks.
pub const MEDIA_STREAM_DATA: &str = "/v1/streams/{render}/data";
/// MediaServer: `DELETE` close a render's stream.
pub const MEDIA_STREAM: &str = "/v1/streams/{render}";
/// MediaServer: `POST` rescan the library.
pub const MEDIA_RESCAN: &str = "/v1/library/rescan";

/// MediaServer: `GET` a live channel (ICY with `Icy-MetaData: 1`, else plain audio).
pub const LIVE_CHANNEL: &str = "/live/{name}";
/// MediaServer: `GET` every channel's stats.
pub const CHANNELS: &str = "/v1/channels";
/// MediaServer: `GET` one channel's stats.
pub const CHANNEL: &str = "/v1/channels/{name}";

/// Render: `POST` join a live channel.
pub const RENDER_CHANNEL: &str = "/v1/channel";
/// Render: `POST` load a track.
pub const RENDER_LOAD: &str = "/v1/load";
/// Render: `POST` play, pause, resume, stop, next.
pub const RENDER_ACTION: &str = "/v1/{action}";
/// Render: `GET` list / `POST` add / `DELETE` clear the queue.
pub const RENDER_QUEUE: &str = "/v1/queue";
/// Render: `GET` status.
pub const RENDER_STATUS: &str = "/v1/status";
/// Render: `GET` an audio stream of what it plays.
pub const RENDER_LISTEN: &str = "/listen";

/// Fills the `{placeholders}` of a path, in order, percent-encoding each value.
pub fn fill(template: &str, values: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut values = values.iter();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        if let Some(v) = values.next() {
            encode_segment(v, &mut out);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn encode_segment(value: &str, out: &mut String) {
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_encodes_each_segment() {
        assert_eq!(
            fill(SERVER_ACTION, &["MediaServer-1", "stop"]),
            "/v1/servers/MediaServer-1/stop"
        );
        assert_eq!(fill(SERVER, &["a/b c"]), "/v1/servers/a%2Fb%20c");
        assert_eq!(fill(NODES, &[]), "/v1/nodes");
    }
}
