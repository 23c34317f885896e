//! `watch`: the registry's event stream, one line per event, until interrupted. When the
//! registry goes away the watch says so once, reconnects by itself, and starts again from the
//! fresh snapshot the registry sends every subscriber.

use std::time::Duration;

use anyhow::Result;
use grid_proto::api::{Event, EventKind, ServerState};
use grid_proto::paths;
use grid_proto::sse::SseDecoder;

use crate::output::{Output, time_ms};
use crate::session::Session;

/// The first wait before reconnecting; it doubles up to [`RETRY_MAX`].
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

/// Prints events until the process is interrupted.
pub async fn run(session: &Session, out: &Output) -> Result<()> {
    // Its own client: the shared one bounds a whole request, and a stream never ends.
    let builder = reqwest::Client::builder().connect_timeout(Duration::from_secs(2));
    let http = grid_proto::tls::with_grid_ca(builder)?.build()?;
    let url = format!("{}{}", session.url(), paths::EVENTS);
    let mut lost = false;
    let mut wait = RETRY_MIN;
    loop {
        let why = match follow(&http, &url, out, &mut lost, &mut wait).await {
            Ok(()) => "the registry closed the stream".to_owned(),
            Err(e) => grid_proto::error::innermost(&*e).to_string(),
        };
        if !lost {
            out.warning(&format!(
                "lost the event stream of {} ({why}); reconnecting",
                session.url()
            ));
            lost = true;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RETRY_MAX);
    }
}

/// One subscription: prints its events until it ends.
async fn follow(
    http: &reqwest::Client,
    url: &str,
    out: &Output,
    lost: &mut bool,
    wait: &mut Duration,
) -> Result<()> {
    let mut resp = http.get(url).send().await?.error_for_status()?;
    if std::mem::take(lost) {
        out.warning(&format!("reconnected to {url}"));
    }
    *wait = RETRY_MIN;
    let mut decoder = SseDecoder::new();
    while let Some(chunk) = resp.chunk().await? {
        decoder.feed(&chunk);
        while let Some(frame) = decoder.next_event()? {
            if out.json {
                // The event exactly as the registry sent it, on one line.
                out.text(&frame.data);
            } else {
                match serde_json::from_str::<Event>(&frame.data) {
                    Ok(event) => out.text(&line(&event)),
                    Err(e) => out.warning(&format!("an event gridadmin cannot read: {e}")),
                }
            }
        }
    }
    Ok(())
}

/// One event for people: its time, serial, type and what it says.
pub fn line(event: &Event) -> String {
    let what = match &event.kind {
        EventKind::Snapshot {
            applications,
            nodes,
            servers,
        } => {
            let up = nodes.iter().filter(|n| n.up).count();
            let active = servers
                .iter()
                .filter(|s| s.runtime.state == ServerState::Active)
                .count();
            format!(
                "snapshot: {} applications, {} nodes ({up} up), {} servers ({active} active)",
                applications.len(),
                nodes.len(),
                servers.len()
            )
        }
        EventKind::NodeUp { node } => format!("node-up {node}"),
        EventKind::NodeDown { node } => format!("node-down {node}"),
        EventKind::ServerState {
            server,
            node,
            runtime,
        } => {
            let pid = runtime.pid.map(|p| format!(" pid {p}")).unwrap_or_default();
            format!(
                "server-state {server} on {node}: {}{pid}",
                runtime.state.as_str()
            )
        }
        EventKind::ServerFlags {
            server,
            enabled,
            stopped,
        } => format!(
            "server-flags {server} {}{}",
            if *enabled { "enabled" } else { "disabled" },
            if *stopped { ", stopped" } else { "" }
        ),
        EventKind::ApplicationAdded { name, serial } => {
            format!("application-added {name} (serial {serial})")
        }
        EventKind::ApplicationUpdated { name, serial } => {
            format!("application-updated {name} (serial {serial})")
        }
        EventKind::ApplicationRemoved { name } => format!("application-removed {name}"),
        EventKind::Server { server, payload } => format!("server {server}: {payload}"),
    };
    format!("{} #{} {what}", time_ms(event.time_ms), event.serial)
}

#[cfg(test)]
mod tests {
    use grid_proto::api::ServerRuntime;

    use super::*;

    #[test]
    fn one_line_per_event() {
        let at = |kind| Event {
            serial: 9,
            time_ms: 1_700_000_000_000,
            kind,
        };
        let state = at(EventKind::ServerState {
            server: "MediaServer-1".into(),
            node: "node1".into(),
            runtime: ServerRuntime {
                state: ServerState::Active,
                pid: Some(42),
                ..ServerRuntime::default()
            },
        });
        assert_eq!(
            line(&state),
            "2023-11-14 22:13:20 UTC #9 server-state MediaServer-1 on node1: active pid 42"
        );
        let payload = serde_json::json!({"event": "failover"});
        let server = at(EventKind::Server {
            server: "MediaRender-1".into(),
            payload,
        });
        assert!(line(&server).ends_with("#9 server MediaRender-1: {\"event\":\"failover\"}"));
    }
}
