//! A channel's recent output: one ring of shared chunks.
//!
//! The ring holds the channel's output once, as reference-counted [`Bytes`] chunks, each with
//! its offset in two streams: the ICY stream (audio with a metadata block after every `metaint`
//! bytes, at the channel's own interval positions, so one encoding serves every ICY listener)
//! and the plain stream (the same audio without the blocks). Readers hold a position in one of
//! the two streams and read from it to the live edge.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Bytes, BytesMut};
use grid_proto::icy::{self, Metadata};

/// At most this many pieces in one write (well under `IOV_MAX`).
const MAX_IOV: usize = 256;
/// The ring holds at most this many bytes per ms it keeps: twice the highest MP3 bitrate.
pub(crate) const RING_BYTES_PER_MS: usize = 2 * 320 / 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A metadata block: in the ICY stream only.
    Block,
    /// Audio: `frame_start` when it begins at an MP3 frame boundary (a plain listener may start
    /// there), `interval_start` when it begins an ICY interval (an ICY listener may start there).
    Audio {
        frame_start: bool,
        interval_start: bool,
    },
}

#[derive(Debug)]
struct Chunk {
    /// Offset in the ICY stream.
    icy: u64,
    /// Offset in the plain stream.
    plain: u64,
    /// When it was produced, ms since the channel started.
    at_ms: u64,
    kind: Kind,
    data: Bytes,
}

impl Chunk {
    fn start(&self, icy: bool) -> u64 {
        if icy { self.icy } else { self.plain }
    }

    fn end(&self, icy: bool) -> u64 {
        let len = match (icy, self.kind) {
            (false, Kind::Block) => 0,
            _ => self.data.len() as u64,
        };
        self.start(icy) + len
    }
}

/// The ring: chunks no older than `keep_ms` and no more than its cap, the two live edges, and
/// the block every interval boundary gets.
#[derive(Debug)]
pub(crate) struct Ring {
    chunks: VecDeque<Chunk>,
    /// Bytes in the ring.
    bytes: usize,
    icy_edge: u64,
    plain_edge: u64,
    metaint: usize,
    /// How long chunks are kept.
    keep_ms: u64,
    /// Audio bytes until the next block.
    interval_left: usize,
    /// The block every boundary gets: the current title.
    block: Bytes,
    title: String,
    /// Blocks produced.
    blocks: u64,
}

impl Ring {
    /// An empty ring of ICY intervals of `metaint` bytes, keeping `keep_ms` of output.
    pub(crate) fn new(metaint: usize, keep_ms: u64) -> Self {
        Ring {
            chunks: VecDeque::new(),
            bytes: 0,
            icy_edge: 0,
            plain_edge: 0,
            metaint,
            keep_ms,
            interval_left: metaint,
            block: Bytes::from_static(icy::EMPTY_BLOCK),
            title: String::new(),
            blocks: 0,
        }
    }

    /// The current title.
    pub(crate) fn title(&self) -> &str {
        &self.title
    }

    /// Sets the title every block from now on carries.
    pub(crate) fn set_title(&mut self, title: &str) {
        if title == self.title {
            return;
        }
        let mut meta = Metadata::title(title);
        meta.truncate_to_fit();
        if let Ok(block) = icy::encode_metadata(&meta) {
            self.block = block;
        }
        title.clone_into(&mut self.title);
    }

    /// Blocks produced.
    pub(crate) fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Appends audio (beginning at a frame boundary when `frame_start`) produced at `now_ms`,
    /// with the current title's block at every interval boundary, and drops what is older than
    /// the ring keeps.
    pub(crate) fn push(&mut self, mut audio: Bytes, frame_start: bool, now_ms: u64) {
        let metaint = self.metaint;
        let mut first = true;
        while !audio.is_empty() {
            let piece = audio.split_to(audio.len().min(self.interval_left));
            let len = piece.len();
            self.chunks.push_back(Chunk {
                icy: self.icy_edge,
                plain: self.plain_edge,
                at_ms: now_ms,
                kind: Kind::Audio {
                    frame_start: first && frame_start,
                    interval_start: self.interval_left == metaint,
                },
                data: piece,
            });
            first = false;
            self.icy_edge += len as u64;
            self.plain_edge += len as u64;
            self.interval_left -= len;
            self.bytes += len;
            if self.interval_left == 0 {
                let block = self.block.clone();
                let len = block.len() as u64;
                self.chunks.push_back(Chunk {
                    icy: self.icy_edge,
                    plain: self.plain_edge,
                    at_ms: now_ms,
                    kind: Kind::Block,
                    data: block,
                });
                self.icy_edge += len;
                self.bytes += len as usize;
                self.interval_left = metaint;
                self.blocks += 1;
            }
        }
        let keep = self.keep_ms;
        // By age, and by size: a source sending faster than real time (a flood of datagrams,
        // a relay's upstream in a hurry) must not grow the ring without bound.
        let cap = usize::try_from(keep)
            .unwrap_or(usize::MAX)
            .saturating_mul(RING_BYTES_PER_MS);
        while self
            .chunks
            .front()
            .is_some_and(|c| c.at_ms.saturating_add(keep) < now_ms || self.bytes > cap)
        {
            if let Some(c) = self.chunks.pop_front() {
                self.bytes -= c.data.len();
            }
        }
    }

    /// The live edge of the plain stream (audio only).
    pub(crate) fn plain_edge(&self) -> u64 {
        self.plain_edge
    }

    /// The live edge of a stream.
    pub(crate) fn edge(&self, icy: bool) -> u64 {
        if icy { self.icy_edge } else { self.plain_edge }
    }

    /// The oldest position of a stream still held.
    pub(crate) fn oldest(&self, icy: bool) -> u64 {
        self.chunks
            .front()
            .map_or_else(|| self.edge(icy), |c| c.start(icy))
    }

    /// Appends the plain stream's audio from `pos` (or the oldest kept, if `pos` fell out of
    /// the ring) to the live edge to `out`; returns the edge.
    pub(crate) fn plain_from(&self, pos: u64, out: &mut BytesMut) -> u64 {
        let mut pos = pos.max(self.oldest(false));
        let mut iov = Vec::new();
        while pos < self.plain_edge {
            iov.clear();
            self.slices(pos, false, &mut iov);
            if iov.is_empty() {
                break;
            }
            for piece in &iov {
                out.extend_from_slice(piece);
                pos += piece.len() as u64;
            }
        }
        self.plain_edge
    }

    /// Where a new listener starts: the start of an interval (ICY) or of a frame-aligned chunk
    /// (plain) produced closest to `burst_ms` ago; at the next interval when there is none.
    pub(crate) fn join_position(&self, icy: bool, now_ms: u64, burst_ms: u64) -> u64 {
        let target = now_ms.saturating_sub(burst_ms);
        let mut best: Option<(u64, u64)> = None;
        for c in self.chunks.iter().rev() {
            let Kind::Audio {
                frame_start,
                interval_start,
            } = c.kind
            else {
                continue;
            };
            if !(if icy { interval_start } else { frame_start }) {
                continue;
            }
            let distance = c.at_ms.abs_diff(target);
            // Chunks pushed in one tick share a time. With a burst wanted, the older of them:
            // a channel's first tick pushes `burst_ms` of history at once, and a listener joining
            // then should get all of it. Without one, the newer: the live edge.
            if best.is_some_and(|(d, _)| d < distance || (d == distance && burst_ms == 0)) {
                break;
            }
            best = Some((distance, c.start(icy)));
        }
        match best {
            Some((_, pos)) => pos,
            // Nothing yet, or an interval longer than the ring: the next interval (if the
            // title changes before it, the block is longer and the listener's first bytes are
            // off by that much; an interval that long is a configuration mistake).
            None if icy && self.interval_left == self.metaint => self.icy_edge,
            None if icy => self.icy_edge + self.interval_left as u64 + self.block.len() as u64,
            None => self.plain_edge,
        }
    }

    /// The ring's data from `pos` to the live edge of a stream: each chunk and the bytes of it
    /// already behind `pos`.
    pub(crate) fn read_from(&self, pos: u64, icy: bool) -> impl Iterator<Item = (&Bytes, usize)> {
        let first = self.chunks.partition_point(|c| c.end(icy) <= pos);
        self.chunks
            .range(first..)
            .filter(move |c| icy || c.kind != Kind::Block)
            .filter_map(move |c| {
                let skip = usize::try_from(pos.saturating_sub(c.start(icy))).unwrap_or(usize::MAX);
                (skip < c.data.len()).then_some((&c.data, skip))
            })
    }

    /// Appends to `out` the pieces of the ring from `pos` to the live edge, until `out` holds
    /// [`MAX_IOV`].
    pub(crate) fn slices<'a>(&'a self, pos: u64, icy: bool, out: &mut Vec<IoSlice<'a>>) {
        for (data, skip) in self.read_from(pos, icy) {
            out.push(IoSlice::new(&data[skip..]));
            if out.len() >= MAX_IOV {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroUsize;

    use grid_proto::icy::{Decoder, Item};

    use super::*;

    fn read_all(ring: &Ring, pos: u64, icy: bool) -> Vec<u8> {
        let mut iov = Vec::new();
        ring.slices(pos, icy, &mut iov);
        iov.iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn a_source_faster_than_real_time_does_not_grow_the_ring_past_its_cap() {
        // keep_ms: burst 0 + lag 1000
        let mut ring = Ring::new(16_000, 1000);
        // 50 MB at once, as a flood of datagrams would bring.
        for _ in 0..50_000 {
            ring.push(Bytes::from(vec![0u8; 1000]), true, 0);
        }
        let cap = 1000 * RING_BYTES_PER_MS;
        let held: usize = ring.chunks.iter().map(|c| c.data.len()).sum();
        assert_eq!(held, ring.bytes);
        assert!(held <= cap, "{held} bytes held, cap {cap}");
        assert_eq!(ring.plain_edge, 50_000_000);
    }

    #[test]
    fn one_ring_serves_icy_and_plain_from_any_position() {
        let mut ring = Ring::new(10, 1000);
        ring.set_title("A - B");
        let audio: Vec<u8> = (0..35u8).collect();
        for piece in audio.chunks(7) {
            ring.push(Bytes::copy_from_slice(piece), true, 0);
        }
        assert_eq!(read_all(&ring, 0, false), audio);
        assert_eq!(read_all(&ring, 13, false), audio[13..]);
        let icy_stream = read_all(&ring, 0, true);
        let mut d = Decoder::body(NonZeroUsize::new(10));
        d.feed(&icy_stream);
        let mut got = Vec::new();
        let mut titles = 0;
        while let Some(item) = d.next().unwrap() {
            match item {
                Item::Audio { data, .. } => got.extend_from_slice(&data),
                Item::Metadata { metadata, .. } => {
                    assert_eq!(metadata.unwrap().stream_title.as_deref(), Some("A - B"));
                    titles += 1;
                }
                _ => unreachable!(),
            }
        }
        assert_eq!((got, titles), (audio.clone(), 3));
        // An ICY listener starts at an interval: after a block.
        let pos = ring.join_position(true, 0, 0);
        let block_len = ring.block.len() as u64;
        assert_eq!(pos, 3 * (10 + block_len));
        // A plain one at a frame-aligned chunk.
        assert_eq!(ring.join_position(false, 0, 0), 28);
        // Everything was pushed at once (a channel's first tick, its history): a listener
        // wanting a burst longer than that gets all of it.
        assert_eq!(ring.join_position(true, 0, 1000), 0);
        assert_eq!(ring.join_position(false, 0, 1000), 0);
    }
}
