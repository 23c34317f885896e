//! Data segments: the metadata block, a segment, and the framer that inserts blocks into a
//! live stream that arrives in pieces of any size.

use std::num::NonZeroUsize;

use bytes::{BufMut, Bytes, BytesMut};

use super::{EMPTY_BLOCK, IcyError, MAX_METADATA_LEN, Metadata};

/// Writes the metadata block of `meta` (`k`, text, zero padding), or an error when the text is
/// longer than [`MAX_METADATA_LEN`]; nothing is written then. Empty metadata is the `k = 0` block.
pub fn write_metadata_block(meta: &Metadata, out: &mut impl BufMut) -> Result<(), IcyError> {
    let len = meta.text_len();
    if len > MAX_METADATA_LEN {
        return Err(IcyError::MetadataTooLong { len });
    }
    let k = len.div_ceil(16);
    out.put_u8(k as u8);
    meta.write_text(out);
    out.put_bytes(0, k * 16 - len);
    Ok(())
}

/// The metadata block of `meta`, to build once per title and reuse for every listener.
pub fn encode_metadata(meta: &Metadata) -> Result<Bytes, IcyError> {
    let mut out = BytesMut::with_capacity(1 + meta.text_len().div_ceil(16) * 16);
    write_metadata_block(meta, &mut out)?;
    Ok(out.freeze())
}

/// Writes a data segment: `audio` (the interval's `icy-metaint` bytes, not checked) then the
/// block of `metadata` (`None` or empty: the `k = 0` block). On error nothing is written.
pub fn encode_segment(
    audio: &[u8],
    metadata: Option<&Metadata>,
    out: &mut impl BufMut,
) -> Result<(), IcyError> {
    let meta = metadata.filter(|m| !m.is_empty());
    if let Some(m) = meta {
        let len = m.text_len();
        if len > MAX_METADATA_LEN {
            return Err(IcyError::MetadataTooLong { len });
        }
    }
    out.put_slice(audio);
    match meta {
        Some(m) => write_metadata_block(m, out),
        None => {
            out.put_u8(0);
            Ok(())
        }
    }
}

/// Writes a data segment with a block already encoded ([`encode_metadata`], [`EMPTY_BLOCK`]).
pub fn encode_segment_with_block(audio: &[u8], block: &[u8], out: &mut impl BufMut) {
    out.put_slice(audio);
    out.put_slice(block);
}

/// Hands `sender` the audio, then the block (two calls, no copy).
pub fn send_segment(audio: &[u8], block: &[u8], mut sender: impl FnMut(&[u8])) {
    sender(audio);
    sender(block);
}

/// One listener's framing of a live stream: audio in pieces of any size goes in, and out come
/// the same bytes with a metadata block after every `metaint` bytes of audio.
///
/// The block after a boundary is the one set by [`Framer::set_metadata`] since the previous
/// boundary, sent once; the empty block otherwise. A new listener's framer is given the current
/// title at once, so its first block names the track.
#[derive(Debug, Clone)]
pub struct Framer {
    metaint: usize,
    pos: usize,
    segment: u64,
    pending: Option<Bytes>,
}

impl Framer {
    /// A framer at the start of an interval.
    pub fn new(metaint: NonZeroUsize) -> Self {
        Framer {
            metaint: metaint.get(),
            pos: 0,
            segment: 0,
            pending: None,
        }
    }

    /// The block to send at the next boundary (from [`encode_metadata`]); replaces one not yet sent.
    pub fn set_metadata(&mut self, block: Bytes) {
        self.pending = Some(block);
    }

    /// Frames `audio`: hands `send` slices of it (sharing its memory) and the blocks between.
    pub fn push(&mut self, audio: &Bytes, mut send: impl FnMut(Bytes)) {
        let mut rest = audio.clone();
        while !rest.is_empty() {
            let room = self.metaint - self.pos;
            if rest.len() < room {
                self.pos += rest.len();
                send(rest);
                return;
            }
            send(rest.split_to(room));
            self.pos = 0;
            self.segment += 1;
            send(
                self.pending
                    .take()
                    .unwrap_or_else(|| Bytes::from_static(EMPTY_BLOCK)),
            );
        }
    }

    /// Bytes of audio sent in the current interval.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Segments completed (blocks sent).
    pub fn segments(&self) -> u64 {
        self.segment
    }
}
