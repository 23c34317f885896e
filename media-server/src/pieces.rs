//! `Pieces`: a byte range of an open file, read in large blocks and handed out in pieces of a
//! fixed size, for the streamed bodies (`/data` and a track's audio).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

/// How much is read at once. Reading a block and slicing it into pieces (`Bytes` share the
/// block) costs one system call per block instead of one per piece.
const READ_AHEAD: usize = 256 * 1024;
/// Blocks kept for reuse. Once the socket has taken every piece of a block, the block is
/// filled again: no allocation, zeroing or page faults per block.
const BLOCKS_KEPT: usize = 3;

/// The pieces of `file[start..end]`.
#[derive(Debug)]
pub struct Pieces {
    file: Arc<File>,
    /// Offset of the next byte handed out.
    next: u64,
    end: u64,
    piece: usize,
    block_len: usize,
    /// Read, not handed out yet: `file[next..next + block.len()]`.
    block: Bytes,
    /// Whole blocks read lately, the pieces of which may still be queued for sending.
    recent: Vec<Bytes>,
}

impl Pieces {
    /// Pieces of `piece` bytes (the last one shorter) of `file[start..end]`.
    pub fn new(file: Arc<File>, start: u64, end: u64, piece: usize) -> Self {
        let piece = piece.max(1);
        Self {
            file,
            next: start,
            end,
            piece,
            // A whole number of pieces, so no piece straddles two blocks.
            block_len: piece * (READ_AHEAD / piece).max(1),
            block: Bytes::new(),
            recent: Vec::with_capacity(BLOCKS_KEPT),
        }
    }

    /// The offset of the next byte to be handed out.
    pub fn offset(&self) -> u64 {
        self.next
    }

    /// The next piece, `None` at the end. A file shorter than expected is an error: it was
    /// truncated under us, and a short body must not pass for the end of the track.
    ///
    /// The read happens inline, on the server's one runtime thread (the body is polled there):
    /// a block of at most 256 KiB (1 MiB for the largest pieces) comes from the page cache in
    /// microseconds, less than a hand-off to `spawn_blocking` would cost. A cold read from a
    /// slow disk stalls the other connections meanwhile; that is the trade.
    pub fn next_piece(&mut self) -> Option<io::Result<Bytes>> {
        if self.next >= self.end {
            return None;
        }
        if self.block.is_empty() {
            let len = usize::try_from(self.end - self.next)
                .unwrap_or(usize::MAX)
                .min(self.block_len);
            // The spent block's empty remainder still counts as a holder of it.
            self.block = Bytes::new();
            let mut buf = self.free_block(len);
            if let Err(e) = self.file.read_exact_at(&mut buf, self.next) {
                self.end = self.next;
                return Some(Err(e));
            }
            self.block = buf.freeze();
            if self.recent.len() == BLOCKS_KEPT {
                self.recent.remove(0);
            }
            self.recent.push(self.block.clone());
        }
        let piece = self.block.split_to(self.piece.min(self.block.len()));
        self.next += piece.len() as u64;
        Some(Ok(piece))
    }

    /// `len` bytes to read into: a recent block nobody holds any more, else a new one.
    fn free_block(&mut self, len: usize) -> BytesMut {
        if let Some(i) = self
            .recent
            .iter()
            .position(|b| b.is_unique() && b.len() >= len)
            && let Ok(mut block) = self.recent.swap_remove(i).try_into_mut()
        {
            block.truncate(len);
            return block;
        }
        BytesMut::zeroed(len)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_of(content: &[u8]) -> Arc<File> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        Arc::new(file)
    }

    #[test]
    fn pieces_cover_the_range_exactly() {
        let content: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
        let file = file_of(&content);
        for (start, piece) in [
            (0, 4096),
            (12_345, 4096),
            (1, 65_536),
            (0, 5000),
            (7, 1 << 20),
        ] {
            let mut pieces = Pieces::new(Arc::clone(&file), start, content.len() as u64, piece);
            let mut got = Vec::new();
            let mut lens = Vec::new();
            while let Some(p) = pieces.next_piece() {
                let p = p.unwrap();
                lens.push(p.len());
                got.extend_from_slice(&p);
            }
            assert_eq!(
                got,
                content[start as usize..],
                "start {start}, piece {piece}"
            );
            let (last, full) = lens.split_last().unwrap();
            assert!(full.iter().all(|&l| l == piece));
            assert!(*last <= piece && *last > 0);
            assert_eq!(pieces.offset(), content.len() as u64);
        }
    }

    #[test]
    fn blocks_still_held_are_not_reused() {
        let content: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut pieces = Pieces::new(file_of(&content), 0, content.len() as u64, 65_536);
        let mut held = Vec::new();
        while let Some(p) = pieces.next_piece() {
            held.push(p.unwrap());
        }
        assert_eq!(held.concat(), content);
    }

    #[test]
    fn a_truncated_file_is_an_error_not_an_end() {
        let file = file_of(b"0123456789");
        let mut pieces = Pieces::new(file, 0, 20, 4);
        assert!(pieces.next_piece().unwrap().is_err());
        assert!(pieces.next_piece().is_none());
    }
}
