//! The control port and its UDP clients (`docs/live.md`).
//!
//! A client opens a TCP connection and sends line commands ([`super::command`]), each answered
//! `OK` or `ERR <reason>`. A connected, unpaused client gets its channel's audio as UDP datagrams of
//! whole MP3 frames at the TCP peer's address. The subscription lives exactly as long as the
//! connection's session: `DESCONECTAR`, the connection closing or failing, or the server
//! stopping all drop it, and dropping it removes the client from the channel's feed at once.
//!
//! A channel's side of it, what its clients are sent, is its [`super::udp_feed::UdpFeed`].

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::BytesMut;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use super::Live;
use super::channel::Channel;
use super::command::{self, Command};
use crate::accept::{self, Dropped};

/// `GET` the control port's address and clients: [`ControlInfo`].
pub const CONTROL: &str = "/v1/control";
/// A command line longer than this (without its newline) is refused and the connection closed.
pub const MAX_LINE: usize = 256;
/// Default bound on control clients at once.
pub const DEFAULT_MAX_CLIENTS: usize = 1024;
/// A reply the client does not take within this long ends its connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// After the last reply, what the client still sends is read (and dropped) for this long, so
/// that the close is a FIN, not a reset that could lose the reply on its way.
const LINGER: Duration = Duration::from_secs(1);
/// The sending socket's buffer: a tick's datagrams to many clients at once.
const SNDBUF: usize = 1 << 20;

impl Control {
    /// Connections open now.
    pub fn clients(&self) -> usize {
        self.clients.load(Ordering::Relaxed)
    }

    /// At most this many connections at once.
    pub fn max_clients(&self) -> usize {
        self.max_clients
    }
}

/// `GET /v1/control`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlInfo {
    /// The control port's address; `None` without `--control`.
    pub addr: Option<String>,
    /// The address datagrams are sent from.
    pub udp_from: Option<String>,
    /// Control connections open now.
    pub clients: u64,
    /// At most this many at once.
    pub max_clients: u64,
}

/// The control port of a server.
#[derive(Debug)]
pub struct Control {
    /// Where it listens.
    pub addr: SocketAddr,
    socket: Arc<UdpSocket>,
    live: Arc<Live>,
    clients: AtomicUsize,
    max_clients: usize,
}

/// Counts a control connection while it lives.
struct Counted(Arc<Control>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A client's subscription to a channel: removed from the channel's feed when dropped, however
/// the session ends.
struct Subscription {
    channel: Arc<Channel>,
    id: u64,
    to: SocketAddr,
    paused: bool,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.channel.udp().remove(self.id);
        info!("{}: UDP to {} stopped", self.channel.name(), self.to);
    }
}

/// What a command line asks of the session.
enum Reply {
    Ok,
    /// `OK`, then the connection closes.
    OkClose,
    Err(String),
}

impl Control {
    /// Binds the control port at `spec` (`HOST:PORT`, or a `PORT` alone on `http_ip`, the
    /// HTTP listener's address) and the UDP socket datagrams are sent from (on the same address,
    /// so clients see them come from the host they connected to).
    pub async fn bind(
        spec: &str,
        http_ip: IpAddr,
        max_clients: usize,
        live: Arc<Live>,
    ) -> anyhow::Result<(Arc<Self>, TcpListener)> {
        let listener = match spec.parse::<u16>() {
            Ok(port) => TcpListener::bind((http_ip, port)).await,
            Err(_) => TcpListener::bind(spec).await,
        }
        .with_context(|| format!("binding the control port {spec}"))?;
        let addr = listener
            .local_addr()
            .context("reading the control port's address")?;
        let socket = UdpSocket::bind((addr.ip(), 0))
            .with_context(|| format!("binding a UDP socket on {}", addr.ip()))?;
        socket
            .set_nonblocking(true)
            .context("making the UDP socket non-blocking")?;
        if let Err(e) = socket2::SockRef::from(&socket).set_send_buffer_size(SNDBUF) {
            debug!("cannot set the UDP socket's SO_SNDBUF: {e}");
        }
        let control = Control {
            addr,
            socket: Arc::new(socket),
            live,
            clients: AtomicUsize::new(0),
            max_clients,
        };
        Ok((Arc::new(control), listener))
    }

    /// The address datagrams are sent from.
    pub fn udp_from(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok()
    }

    /// Accepts control clients until `stop`.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, stop: CancellationToken) {
        info!(
            "control port on {} (datagrams from {}), at most {} clients",
            self.addr,
            self.udp_from()
                .map_or_else(|| "?".to_owned(), |a| a.to_string()),
            self.max_clients
        );
        let prefix = "control port: ";
        accept::until_stopped(&listener, &stop, prefix, Dropped::Fail, |socket, peer| {
            let n = self.clients.fetch_add(1, Ordering::Relaxed);
            let counted = Counted(Arc::clone(&self));
            if n >= self.max_clients {
                let max = self.max_clients;
                tokio::spawn(async move {
                    let mut socket = socket;
                    let line = format!("ERR too many control clients (at most {max})\n");
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, socket.write_all(line.as_bytes()))
                        .await;
                    close_gently(socket).await;
                    drop(counted);
                });
                return;
            }
            tokio::spawn(session(counted, socket, peer, stop.clone()));
        })
        .await;
    }

    /// `CONECTAR <udp-port> [channel]`.
    fn connect(
        &self,
        port: u16,
        name: Option<&str>,
        peer: SocketAddr,
        current: &mut Option<Subscription>,
    ) -> Reply {
        if let Some(s) = current {
            return Reply::Err(format!(
                "already connected to '{}' (DESCONECTAR first)",
                s.channel.name()
            ));
        }
        let channel = match name {
            Some(name) => match self.live.get(name) {
                Some(c) => c,
                None => return Reply::Err(format!("no such channel '{name}'")),
            },
            None => match self.live.channels().first() {
                Some(c) => c,
                None => return Reply::Err("no channel to send: this server has none".into()),
            },
        };
        let to = SocketAddr::new(peer.ip(), port);
        if let Some(other) = self.live.channels().iter().find(|c| c.udp().sends_to(to)) {
            return Reply::Err(format!(
                "{to} already receives '{}' (from another control connection)",
                other.name()
            ));
        }
        let id = channel.udp_add(to, Arc::clone(&self.socket));
        info!(
            "{}: UDP to {to} started (control client {peer})",
            channel.name()
        );
        *current = Some(Subscription {
            channel: Arc::clone(channel),
            id,
            to,
            paused: false,
        });
        Reply::Ok
    }

    /// One command line (without its newline).
    fn command(&self, line: &[u8], peer: SocketAddr, current: &mut Option<Subscription>) -> Reply {
        let command = match command::parse(line) {
            Ok(c) => c,
            Err(reason) => return Reply::Err(reason),
        };
        match command {
            Command::Connect { port, channel } => {
                self.connect(port, channel.as_deref(), peer, current)
            }
            Command::Pause(pause) => {
                let Some(s) = current else {
                    return Reply::Err("not connected (CONECTAR first)".into());
                };
                match (pause, s.paused) {
                    (true, true) => Reply::Err("already paused".into()),
                    (false, false) => Reply::Err("not paused".into()),
                    _ => {
                        s.paused = pause;
                        s.channel.udp().set_paused(s.id, pause);
                        info!(
                            "{}: UDP to {} {}",
                            s.channel.name(),
                            s.to,
                            if pause { "paused" } else { "resumed" }
                        );
                        Reply::Ok
                    }
                }
            }
            Command::Disconnect => match current.take() {
                // Dropping the subscription stops the datagrams before the reply.
                Some(s) => {
                    drop(s);
                    Reply::OkClose
                }
                None => Reply::Err("not connected (CONECTAR first)".into()),
            },
        }
    }
}

/// One control connection: commands until it closes, fails, says `DESCONECTAR`, or the server
/// stops. Its subscription (if any) ends with it.
async fn session(
    counted: Counted,
    mut socket: TcpStream,
    peer: SocketAddr,
    stop: CancellationToken,
) {
    let control = Arc::clone(&counted.0);
    let mut current: Option<Subscription> = None;
    let mut buf = BytesMut::with_capacity(MAX_LINE + 64);
    loop {
        while let Some(eol) = buf.iter().position(|&b| b == b'\n') {
            let line = buf.split_to(eol + 1);
            let line = line[..eol].strip_suffix(b"\r").unwrap_or(&line[..eol]);
            let reply = if line.len() > MAX_LINE {
                Reply::Err(format!("line too long (more than {MAX_LINE} bytes)"))
            } else {
                control.command(line, peer, &mut current)
            };
            let (text, close) = match reply {
                Reply::Ok => ("OK\n".to_owned(), false),
                Reply::OkClose => ("OK\n".to_owned(), true),
                Reply::Err(why) => {
                    let close = line.len() > MAX_LINE;
                    (format!("ERR {why}\n"), close)
                }
            };
            match tokio::time::timeout(WRITE_TIMEOUT, socket.write_all(text.as_bytes())).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return,
            }
            if close {
                drop(current);
                close_gently(socket).await;
                return;
            }
        }
        // (Its `\r` is not counted: a line of MAX_LINE bytes may still end in CRLF.)
        if buf.len() > MAX_LINE + usize::from(buf.last() == Some(&b'\r')) {
            // No newline in sight: refuse the line without waiting for its end.
            drop(current);
            let line = format!("ERR line too long (more than {MAX_LINE} bytes)\n");
            let _ = tokio::time::timeout(WRITE_TIMEOUT, socket.write_all(line.as_bytes())).await;
            close_gently(socket).await;
            return;
        }
        let read = tokio::select! {
            () = stop.cancelled() => return,
            read = socket.read_buf(&mut buf) => read,
        };
        match read {
            Ok(0) => {
                debug!("control client {peer} closed its connection");
                return;
            }
            Ok(_) => {}
            Err(e) => {
                debug!("control client {peer} failed: {e}");
                return;
            }
        }
    }
}

/// Closes after the last reply: a FIN, then what the client still sends is read and dropped
/// for a moment (bounded), so the close is not a reset that could lose the reply.
async fn close_gently(mut socket: TcpStream) {
    let _ = socket.shutdown().await;
    let mut sink = [0u8; 1024];
    let mut left: usize = 64 * 1024;
    let _ = tokio::time::timeout(LINGER, async {
        while left > 0 {
            match socket.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}
