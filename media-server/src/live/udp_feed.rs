//! A channel's UDP clients (of the control port) and what they were sent.
//!
//! After each distribution the feed takes the plain audio produced since the last one from the
//! ring (one copy per channel, not per client), cuts it into datagrams of whole frames, and
//! sends them to every unpaused client from one non-blocking socket of the server. A client
//! whose sends fail is skipped for that tick, never waited for.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::{Bytes, BytesMut};
use tracing::{info, warn};

use crate::mpeg::{Aligner, FrameHeader};

/// At most this much payload per datagram, so that with the IP and UDP headers a datagram fits
/// an Ethernet MTU unfragmented; a single frame longer than this goes alone.
pub const MAX_PAYLOAD: usize = 1400;

/// One UDP client of a channel.
#[derive(Debug)]
struct UdpClient {
    id: u64,
    to: SocketAddr,
    socket: Arc<UdpSocket>,
    paused: bool,
    /// Its sends fail (logged once until they succeed again).
    failing: bool,
}

#[derive(Debug, Default)]
struct Feed {
    clients: Vec<UdpClient>,
    /// How far the plain stream has been taken; `None` while there is no client (nothing is
    /// copied then).
    pos: Option<u64>,
    /// Cuts what is taken at frame boundaries (the ring's chunks are cut at metadata intervals).
    aligner: Aligner,
    next_id: u64,
    datagrams: u64,
    bytes: u64,
}

/// A channel's UDP clients and what they were sent.
#[derive(Debug, Default)]
pub struct UdpFeed {
    feed: Mutex<Feed>,
}

/// A channel's UDP numbers for its stats.
#[derive(Debug, Clone, Copy, Default)]
pub struct UdpStats {
    /// Clients now.
    pub clients: u64,
    /// Datagrams sent.
    pub datagrams: u64,
    /// Payload bytes sent.
    pub bytes: u64,
}

impl UdpFeed {
    fn lock(&self) -> MutexGuard<'_, Feed> {
        self.feed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new client, sent what the channel produces from now on (`edge`: the channel's plain
    /// live edge, asked only when it is the first); returns its id.
    pub(crate) fn add(
        &self,
        edge: impl FnOnce() -> u64,
        to: SocketAddr,
        socket: Arc<UdpSocket>,
    ) -> u64 {
        let mut feed = self.lock();
        if feed.pos.is_none() {
            feed.pos = Some(edge());
            feed.aligner = Aligner::default();
        }
        feed.next_id += 1;
        let id = feed.next_id;
        feed.clients.push(UdpClient {
            id,
            to,
            socket,
            paused: false,
            failing: false,
        });
        id
    }

    /// Whether a client of this channel is at `to`.
    pub(crate) fn sends_to(&self, to: SocketAddr) -> bool {
        self.lock().clients.iter().any(|c| c.to == to)
    }

    pub(crate) fn set_paused(&self, id: u64, paused: bool) {
        if let Some(c) = self.lock().clients.iter_mut().find(|c| c.id == id) {
            c.paused = paused;
        }
    }

    /// Removes a client: no datagram is sent to it after this returns.
    pub(crate) fn remove(&self, id: u64) {
        let mut feed = self.lock();
        feed.clients.retain(|c| c.id != id);
        if feed.clients.is_empty() {
            feed.pos = None;
            feed.aligner = Aligner::default();
        }
    }

    /// Clients and traffic so far.
    pub fn stats(&self) -> UdpStats {
        let feed = self.lock();
        UdpStats {
            clients: feed.clients.len() as u64,
            datagrams: feed.datagrams,
            bytes: feed.bytes,
        }
    }

    /// Sends the audio channel `name` produced since the last call to every unpaused client
    /// (called after each distribution); `read` appends the plain audio from a position to
    /// the live edge and returns the edge.
    pub(crate) fn send_new(&self, name: &str, read: impl FnOnce(u64, &mut BytesMut) -> u64) {
        let mut feed = self.lock();
        let Some(pos) = feed.pos else {
            return;
        };
        let edge = read(pos, feed.aligner.pending_mut());
        feed.pos = Some(edge);
        let Some(audio) = feed.aligner.take() else {
            return;
        };
        let datagrams = packetize(audio, MAX_PAYLOAD);
        let Feed {
            clients,
            datagrams: sent,
            bytes,
            ..
        } = &mut *feed;
        for c in clients.iter_mut().filter(|c| !c.paused) {
            for d in &datagrams {
                match c.socket.send_to(d, c.to) {
                    Ok(n) => {
                        *sent += 1;
                        *bytes += n as u64;
                        if c.failing {
                            c.failing = false;
                            info!("{}: UDP to {} works again", name, c.to);
                        }
                    }
                    // The socket's buffer is full: this client misses the rest of this tick
                    // (UDP may lose datagrams anyway); the others are not held up.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        if !c.failing {
                            c.failing = true;
                            warn!(
                                "{}: UDP to {} fails ({e}); skipped until it works",
                                name, c.to
                            );
                        }
                        break;
                    }
                }
            }
        }
    }
}

/// Cuts frame-aligned audio into datagrams of whole frames, each at most `max` bytes unless a
/// single frame is longer. Bytes that are not frames (a non-MP3 source passed through) are cut
/// at `max`.
fn packetize(mut audio: Bytes, max: usize) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(audio.len() / max + 1);
    while !audio.is_empty() {
        let mut end = 0;
        while let Some(h) = FrameHeader::parse(&audio[end..]) {
            if end + h.len > audio.len() || (end > 0 && end + h.len > max) {
                break;
            }
            end += h.len;
        }
        if end == 0 {
            end = audio.len().min(max);
        }
        out.push(audio.split_to(end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mpeg;

    #[test]
    fn datagrams_hold_whole_frames_up_to_the_limit() {
        let frame = mpeg::silent_frame(mpeg::DEFAULT_HEADER).unwrap();
        let audio: Vec<u8> = frame.repeat(7);
        let out = packetize(Bytes::from(audio.clone()), MAX_PAYLOAD);
        // 417-byte frames: three to a datagram (1251 bytes), then one.
        assert_eq!(
            out.iter().map(Bytes::len).collect::<Vec<_>>(),
            [1251, 1251, 417]
        );
        assert_eq!(out.concat(), audio);
        // A frame longer than the limit goes alone.
        let out = packetize(Bytes::from(frame.repeat(2)), 300);
        assert_eq!(out.iter().map(Bytes::len).collect::<Vec<_>>(), [417, 417]);
        // Bytes that are not frames are cut at the limit.
        let out = packetize(Bytes::from(vec![1u8; 3000]), MAX_PAYLOAD);
        assert_eq!(
            out.iter().map(Bytes::len).collect::<Vec<_>>(),
            [1400, 1400, 200]
        );
    }
}
