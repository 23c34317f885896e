//! Serving HTTP with bounded clients: what every listener of the grid shares.
//!
//! - A client has [`Limits::header_timeout`] to send each request head. The same bound closes a
//!   kept-alive connection that sits idle, so a half-sent request or a forgotten connection
//!   holds nothing for long.
//! - One peer address holds at most [`Limits::max_per_peer`] connections; one more is answered
//!   503 with a message naming the limit, and closed.
//! - At the stop, accepting ends and a connection with no answer to send is dropped at once
//!   (idle, or still sending its head); one with a request in flight finishes it and closes.
//!   Whatever is still open after [`Limits::grace`] is dropped: a server stops in bounded time
//!   whatever its clients do.
//! - With TLS ([`serve_with`]), the handshake has the header timeout too.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

/// The bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client has to send a request head, and how long a kept-alive connection may
    /// sit idle.
    pub header_timeout: Duration,
    /// Connections one peer address may hold at once.
    pub max_per_peer: usize,
    /// How long open connections get to end after the stop.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_per_peer: 128,
            grace: Duration::from_secs(2),
        }
    }
}

/// The command-line flags of [`Limits`], shared by every daemon.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitFlags {
    /// A client has this long to send a request head; a kept-alive connection idle this long
    /// is closed.
    #[arg(long, value_name = "MS", env = "GRID_HEADER_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub header_timeout_ms: u64,
    /// Connections one peer address may hold at once; one more is answered 503.
    #[arg(long, value_name = "N", env = "GRID_MAX_CONNS_PER_PEER", default_value_t = 128,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_conns_per_peer: u64,
}

impl LimitFlags {
    /// The limits these flags ask for, with `grace` for the stop.
    pub fn limits(&self, grace: Duration) -> Limits {
        Limits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            max_per_peer: usize::try_from(self.max_conns_per_peer).unwrap_or(usize::MAX),
            grace,
        }
    }
}

/// The connections each peer address holds, and the cap on them.
#[derive(Debug)]
pub struct Peers {
    max: usize,
    /// Per address: connections open, and whether its refusal streak has been logged.
    open: Mutex<HashMap<IpAddr, (usize, bool)>>,
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
pub struct Admitted {
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.peers.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((n, logged)) = open.get_mut(&self.ip) {
            *n -= 1;
            *logged = false;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl Peers {
    /// At most `max` connections per peer address.
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max,
            open: Mutex::default(),
        })
    }

    /// A place for a connection from `ip`, or `None` when it already holds the maximum. The
    /// first refusal of a streak is logged.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let (n, logged) = open.entry(ip).or_default();
        if *n >= self.max {
            if !*logged {
                warn!(
                    peer = %ip,
                    "refusing connections from {ip}: it holds {} (--max-conns-per-peer)",
                    self.max
                );
                *logged = true;
            }
            return None;
        }
        *n += 1;
        Some(Admitted {
            peers: Arc::clone(self),
            ip,
        })
    }

    /// Connections open now from `ip`.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&ip).map_or(0, |&(n, _)| n)
    }
}

/// Answers a refused connection 503 with the limit it broke, then closes it once the client has
/// had a moment to read that (closing with its request unread would reset the connection and
/// lose the answer).
pub async fn refuse(mut socket: TcpStream, peer: IpAddr, max: usize) {
    let body = format!(
        "{{\"error\":\"too many connections from {peer}: the limit is {max} per address (--max-conns-per-peer)\"}}"
    );
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let linger = async {
        socket.write_all(reply.as_bytes()).await?;
        socket.shutdown().await?;
        let mut sink = [0u8; 4096];
        while socket.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), linger).await;
}

/// The address a request came from, in the extensions of every request served here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// The requests of one connection whose answer is not all sent yet.
#[derive(Debug, Clone, Default)]
struct InFlight(Arc<AtomicUsize>);

/// One request in flight, until its answer's body is dropped (sent, or the connection gone).
#[derive(Debug)]
struct Busy(Arc<AtomicUsize>);

impl InFlight {
    fn start(&self) -> Busy {
        self.0.fetch_add(1, Ordering::Relaxed);
        Busy(Arc::clone(&self.0))
    }

    fn idle(&self) -> bool {
        self.0.load(Ordering::Relaxed) == 0
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An answer's body, holding its request's [`Busy`].
#[derive(Debug)]
pub struct Tracked<B> {
    inner: B,
    _busy: Busy,
}

impl<B: http_body::Body + Unpin> http_body::Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

type Answer<B, E> = Pin<Box<dyn Future<Output = Result<http::Response<Tracked<B>>, E>> + Send>>;

/// `S`, with [`Peer`] put in each request's extensions and its requests in flight counted.
#[derive(Debug, Clone)]
struct Served<S> {
    inner: S,
    peer: SocketAddr,
    in_flight: InFlight,
}

impl<S, R, B> tower_service::Service<http::Request<R>> for Served<S>
where
    S: tower_service::Service<http::Request<R>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Tracked<B>>;
    type Error = S::Error;
    type Future = Answer<B, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<R>) -> Self::Future {
        request.extensions_mut().insert(Peer(self.peer));
        let busy = self.in_flight.start();
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            Ok(response.map(|inner| Tracked { inner, _busy: busy }))
        })
    }
}

/// The HTTP/1 connection builder for `limits`.
pub fn builder(limits: &Limits) -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    b
}

/// Serves one connection from `peer` with `service`: until it ends, or, once `stop` is
/// cancelled, at once if it has no request in flight, else until that is answered or `force`
/// is cancelled.
pub async fn connection<I, S, B>(
    io: I,
    peer: SocketAddr,
    service: S,
    builder: &hyper::server::conn::http1::Builder,
    stop: &CancellationToken,
    force: &CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower_service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let in_flight = InFlight::default();
    let service = TowerToHyperService::new(Served {
        inner: service,
        peer,
        in_flight: in_flight.clone(),
    });
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stop.cancelled() => {
            if in_flight.idle() {
                return;
            }
            conn.as_mut().graceful_shutdown();
            tokio::select! {
                result = conn.as_mut() => result,
                () = force.cancelled() => Ok(()),
            }
        }
    };
    if let Err(e) = result {
        debug!("connection ended: {e}");
    }
}

/// Serves `service` on `listener` within `limits` until `shutdown` resolves, then stops as the
/// module says. Returns once every connection has ended or been dropped.
pub async fn serve<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()>
where
    S: tower_service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    serve_with(listener, service, limits, None, shutdown).await
}

/// [`serve`], speaking TLS with `tls` when given: the handshake, like a request head, must be
/// done within [`Limits::header_timeout`].
pub async fn serve_with<S, B>(
    listener: TcpListener,
    service: S,
    limits: Limits,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()>
where
    S: tower_service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Unpin + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let peers = Peers::new(limits.max_per_peer);
    let builder = Arc::new(builder(&limits));
    let stop = CancellationToken::new();
    let force = CancellationToken::new();
    let tracker = TaskTracker::new();
    tokio::pin!(shutdown);
    let mut failing = false;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (socket, peer): (TcpStream, SocketAddr) = match accepted {
            Ok(a) => {
                failing = false;
                a
            }
            Err(e) => {
                // Out of descriptors, say: logged once per streak and waited out, not spun on.
                if !failing && !is_connection_error(&e) {
                    warn!("accept failed: {e}; retrying");
                    failing = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let Some(place) = peers.admit(peer.ip()) else {
            tracker.spawn(refuse(socket, peer.ip(), limits.max_per_peer));
            continue;
        };
        let service = service.clone();
        let builder = Arc::clone(&builder);
        let (stop, force) = (stop.clone(), force.clone());
        let acceptor = tls.clone().map(tokio_rustls::TlsAcceptor::from);
        let handshake = limits.header_timeout;
        tracker.spawn(async move {
            match acceptor {
                None => connection(socket, peer, service, &builder, &stop, &force).await,
                Some(acceptor) => {
                    let accepted = tokio::select! {
                        a = tokio::time::timeout(handshake, acceptor.accept(socket)) => a,
                        () = stop.cancelled() => return,
                    };
                    match accepted {
                        Ok(Ok(stream)) => {
                            connection(stream, peer, service, &builder, &stop, &force).await;
                        }
                        Ok(Err(e)) => debug!(%peer, "TLS handshake failed: {e}"),
                        Err(_) => debug!(%peer, "TLS handshake not done in time"),
                    }
                }
            }
            drop(place);
        });
    }
    drop(listener);
    stop.cancel();
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
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_past_its_cap_is_refused_until_a_place_frees() {
        let peers = Peers::new(2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let a = peers.admit(ip).expect("first");
        let _b = peers.admit(ip).expect("second");
        assert!(peers.admit(ip).is_none());
        assert!(peers.admit(ip).is_none());
        assert_eq!(peers.open(ip), 2);
        let _c = peers
            .admit(other)
            .expect("another address has its own places");
        drop(a);
        assert_eq!(peers.open(ip), 1);
        let _d = peers.admit(ip).expect("a freed place");
        assert!(peers.admit(ip).is_none());
    }
}
