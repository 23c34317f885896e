//! `GET /v1/events`: server-sent events, a snapshot first, then every change with its serial.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::stream::{self, Stream, StreamExt};
use grid_proto::api::{Event, EventKind};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::state::AppState;

fn sse(e: &Event) -> SseEvent {
    let kind = serde_json::to_value(&e.kind)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str().map(str::to_owned)));
    let data = serde_json::to_string(e).unwrap_or_default();
    SseEvent::default()
        .id(e.serial.to_string())
        .event(kind.unwrap_or_else(|| "event".into()))
        .data(data)
}

/// The event stream; it ends when the registry shuts down.
pub(crate) async fn stream(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    // Subscribe before taking the snapshot, so nothing falls between the two.
    let (rx, serial) = state.model().subscribe();
    let snapshot = {
        let live = state.model().view();
        Event {
            serial,
            time_ms: grid_proto::now_ms(),
            kind: EventKind::Snapshot {
                applications: live.app_summaries(),
                nodes: live.node_views(),
                servers: live.server_views(),
            },
        }
    };
    let counted = state.clone();
    let first = stream::once(async move {
        counted.metrics().sent();
        Ok(sse(&snapshot))
    });
    let counted = state.clone();
    let rest = BroadcastStream::new(rx).filter_map(move |r| {
        let state = counted.clone();
        async move {
            match r {
                Ok(e) if e.serial > serial => {
                    state.metrics().sent();
                    Some(Ok(sse(&e)))
                }
                Ok(_) => None,
                // A subscriber too slow for 1024 events learns it from the gap in serials.
                Err(BroadcastStreamRecvError::Lagged(n)) => {
                    state.metrics().lagged(n);
                    None
                }
            }
        }
    });
    let stream = first
        .chain(rest)
        .take_until(state.shutdown_token().clone().cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::default())
}
