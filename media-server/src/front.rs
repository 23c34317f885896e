//! The front: the accept loop before the HTTP stack.
//!
//! Every connection's first request head is read here (bounded by the ICY decoder's limits). A
//! `GET /live/{name}` of a known channel is answered here and the socket handed to the channel's
//! distributor: a live listener costs no HTTP connection, no task and no buffer. Anything else is
//! handed to hyper with the bytes already read replayed first ([`Prefixed`]), served by the axum
//! router, within the limits of [`grid_proto::serve`]. At the stop, accepting stops and HTTP
//! connections get [`crate::STOP_GRACE`] to end.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use bytes::{Buf, Bytes, BytesMut};
use grid_proto::icy::{Decoder, Item};
use grid_proto::serve::{self, Limits, Peers};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::accept::{self, Dropped};
use crate::live::Live;

/// The path prefix of live channels.
const LIVE_PREFIX: &[u8] = b"GET /live/";

/// A socket whose first reads return `prefix`: what the front read before handing it over.
#[derive(Debug)]
pub struct Prefixed {
    prefix: Bytes,
    inner: TcpStream,
}

impl Prefixed {
    /// `inner`, read from after `prefix`.
    pub fn new(prefix: Bytes, inner: TcpStream) -> Self {
        Prefixed { prefix, inner }
    }
}

impl AsyncRead for Prefixed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.prefix.has_remaining() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Accepts until `stop` is cancelled; then tells HTTP connections to end after their current
/// request, and returns once they have (or, after `limits.grace`, drops them with a warning).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    live: Arc<Live>,
    stop: CancellationToken,
    limits: Limits,
) {
    let tracker = TaskTracker::new();
    let force = CancellationToken::new();
    let front = Arc::new(Front {
        router,
        live,
        peers: Peers::new(limits.max_per_peer),
        builder: serve::builder(&limits),
        limits,
        stop: stop.clone(),
        force: force.clone(),
    });
    accept::until_stopped(&listener, &stop, "", Dropped::Skip, |socket, peer| {
        tracker.spawn(Arc::clone(&front).connection(socket, peer));
    })
    .await;
    drop(listener);
    tracker.close();
    if tokio::time::timeout(limits.grace, tracker.wait())
        .await
        .is_err()
    {
        warn!(
            "connections still open {} ms after the stop; closing them",
            limits.grace.as_millis()
        );
        force.cancel();
        tracker.wait().await;
    }
}

/// What every connection of the front shares.
struct Front {
    router: Router,
    live: Arc<Live>,
    peers: Arc<Peers>,
    builder: hyper::server::conn::http1::Builder,
    limits: Limits,
    stop: CancellationToken,
    force: CancellationToken,
}

impl Front {
    /// One connection: a live listener, or HTTP. Only HTTP connections count against the
    /// per-peer cap: a live listener is the channel's, and holds no HTTP state.
    async fn connection(self: Arc<Self>, mut socket: TcpStream, peer: SocketAddr) {
        let mut seen = BytesMut::with_capacity(1024);
        let mut decoder = Decoder::request();
        // The whole first head within the timeout, not each read: a byte now and then holds
        // nothing for long.
        let deadline = tokio::time::Instant::now() + self.limits.header_timeout;
        let live_request = loop {
            // Not a live request (or not one we can tell from its start): HTTP.
            let prefix_len = seen.len().min(LIVE_PREFIX.len());
            if seen[..prefix_len] != LIVE_PREFIX[..prefix_len] {
                break None;
            }
            match decoder.next() {
                Ok(Some(Item::Request(request))) => break Some(request),
                Ok(Some(_)) => break None,
                Ok(None) => {}
                // A bad head: hyper answers it.
                Err(_) => break None,
            }
            let before = seen.len();
            match tokio::time::timeout_at(deadline, socket.read_buf(&mut seen)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
                Ok(Ok(_)) => decoder.feed(&seen[before..]),
            }
        };
        if let Some(request) = live_request {
            let target = request.path.split('?').next().unwrap_or_default();
            let name = target.strip_prefix("/live/").unwrap_or_default();
            if let Some(channel) = self.live.get(name) {
                if let Err(e) = channel.join(socket, &request).await {
                    debug!("{name}: a listener failed at its join: {e}");
                }
                return;
            }
        }
        let Some(_place) = self.peers.admit(peer.ip()) else {
            serve::refuse(socket, peer.ip(), self.limits.max_per_peer).await;
            return;
        };
        serve::connection(
            Prefixed::new(seen.freeze(), socket),
            peer,
            self.router.clone(),
            &self.builder,
            &self.stop,
            &self.force,
        )
        .await;
    }
}
