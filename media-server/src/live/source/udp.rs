//! A channel fed by UDP: MP3 datagrams from an external sender
//! (`ffmpeg -re -i x.mp3 -c copy -f mp3 udp://HOST:PORT`), cut at frame boundaries (the sender's
//! datagrams need not be) and broadcast like a relay's audio, to ICY/HTTP listeners and UDP
//! clients, as soon as it arrives.
//!
//! Before the first datagram (`connecting`) and after [`UPSTREAM_SILENT`] without one
//! (`reconnecting`), the channel plays silence shaped like the last frame received; the first
//! datagram after that makes it `playing` again (counted as a reconnect). Datagrams from any
//! sender are taken: the channel is as open as the port it binds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tracing::{debug, info, warn};

use super::relay::UPSTREAM_SILENT;
use super::silence::Silence;
use crate::live::channel::Channel;
use crate::mpeg::{self, Aligner, FrameHeader};

/// The receive buffer asked for: a second or more of audio, should the channel's task be late.
const RCVBUF: usize = 1 << 20;
/// Received but not yet pushed: read no more before pushing this much.
const MAX_PENDING: usize = 256 * 1024;

/// Binds `bind` for the channel (port 0: any free port) and reports the bound address as the
/// channel's upstream. Called at start, so a port in use stops the server with a clear error.
pub fn bind(channel: &Channel, bind: &str) -> anyhow::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(bind)
        .map_err(|e| anyhow::anyhow!("channel {}: binding udp://{bind}: {e}", channel.name()))?;
    socket.set_nonblocking(true)?;
    if let Err(e) = socket2::SockRef::from(&socket).set_recv_buffer_size(RCVBUF) {
        debug!("cannot set SO_RCVBUF: {e}");
    }
    let bound = socket.local_addr()?;
    channel.set_upstream(format!("udp://{bound}"));
    Ok(UdpSocket::from_std(socket)?)
}

/// The source's loop: datagrams to the channel as they come, silence when they stop.
pub async fn run(channel: Arc<Channel>, socket: UdpSocket, tick: Duration) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut buf = vec![0u8; 64 * 1024];
    let mut aligner = Aligner::default();
    let mut silence = Silence::new(mpeg::DEFAULT_HEADER);
    let mut last_data = Instant::now();
    let mut playing = false;
    let mut ever_played = false;
    let mut recv_error_logged = false;
    loop {
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (n, from) = match received {
                    Ok(r) => r,
                    Err(e) => {
                        if !recv_error_logged {
                            warn!("{}: receiving datagrams failed: {e}", channel.name());
                            recv_error_logged = true;
                        }
                        tokio::task::yield_now().await;
                        continue;
                    }
                };
                recv_error_logged = false;
                aligner.extend(&buf[..n]);
                let mut datagrams = 1;
                // Take whatever else is already there, to push and write it all at once.
                while aligner.pending_len() < MAX_PENDING {
                    match socket.try_recv_from(&mut buf) {
                        Ok((n, _)) => {
                            aligner.extend(&buf[..n]);
                            datagrams += 1;
                        }
                        Err(_) => break,
                    }
                }
                last_data = Instant::now();
                let pushed = {
                channel.count_segments(datagrams);
                if !playing {
                    playing = true;
                    channel.source_playing(ever_played);
                    info!(
                        "{}: datagrams {} from {from}",
                        channel.name(),
                        if ever_played { "back" } else { "arriving" }
                    );
                    ever_played = true;
                }
                match aligner.take() {
                    Some(audio) => {
                        if let Some(h) = FrameHeader::parse(&audio) {
                            channel.set_bitrate(h.bitrate_kbps);
                        }
                        channel.push_audio(audio);
                        true
                    }
                    None => false,
                }
                };
                if pushed {
                    channel.distribute().await;
                }
            }
            _ = interval.tick() => {
                if playing && last_data.elapsed() > UPSTREAM_SILENT {
                    playing = false;
                    // The partial frame of the stopped stream is dropped; silence takes over.
                    aligner.clear();
                    silence = Silence::new(aligner.last_header().unwrap_or(mpeg::DEFAULT_HEADER));
                    channel.source_lost();
                    warn!(
                        "{}: no datagram for {} ms; silence until they return",
                        channel.name(),
                        UPSTREAM_SILENT.as_millis()
                    );
                }
                if !playing && let Some(audio) = silence.due(Instant::now()) {
                    channel.set_bitrate(silence.bitrate_kbps());
                    channel.push_audio(audio);
                }
                channel.distribute().await;
                channel.log_listeners();
            }
        }
    }
}
