//! The slow path, for a listener whose request reached the HTTP stack (a kept-alive
//! connection's second request): the same bytes as the front's listeners get, as a streamed
//! body read from the ring every tick by a task of its own.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tracing::info;

use super::channel::Channel;

/// Counts a slow-path listener while its body lives.
#[derive(Debug)]
struct HttpListener(Arc<Channel>);

impl Drop for HttpListener {
    fn drop(&mut self) {
        self.0.http_leave();
    }
}

/// The body of a listener of `channel` (ICY or plain), read every `tick`. Ends when the
/// listener falls out of the ring.
pub fn body_stream(
    channel: Arc<Channel>,
    icy: bool,
    tick: Duration,
) -> impl futures_util::Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    let pos = channel.http_join(icy);
    let guard = HttpListener(channel);
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    futures_util::stream::unfold(
        (guard, pos, interval, VecDeque::<Bytes>::new()),
        move |(guard, mut pos, mut interval, mut pending)| async move {
            loop {
                if let Some(piece) = pending.pop_front() {
                    return Some((Ok(piece), (guard, pos, interval, pending)));
                }
                interval.tick().await;
                match guard.0.http_read(pos, icy, &mut pending) {
                    Some(next) => pos = next,
                    None => {
                        info!("{}: a listener (HTTP stack) cut off", guard.0.name());
                        return None;
                    }
                }
            }
        },
    )
}
