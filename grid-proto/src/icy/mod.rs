//! The ICY (Shoutcast) codec: encoders for a request, a reply and data segments, and
//! an incremental parser for all three.
//!
//! # The protocol
//! A player asks `GET /path HTTP/1.0` with `Icy-MetaData: 1`; the server answers `ICY 200 OK` (or
//! `HTTP/1.x 200 OK`) with `icy-name`, `icy-genre`, `icy-br`, `content-type` and `icy-metaint: M`.
//! The body is a sequence of *segments*: M bytes of audio, then a metadata block, one byte `k` and
//! `k * 16` bytes of text (`StreamTitle='...';StreamUrl='...';`) padded with zeros. `k = 0` is an
//! empty block, which is what nearly every segment carries: the title is sent when it changes.
//!
//! # Encoding
//! - [`encode_request`], [`encode_reply`]: a head into any [`BufMut`]. They never fail: a CR or LF
//!   inside a name or value is written as a space, so no value can inject a header line.
//! - [`encode_metadata`]: a metadata block, built once per title and reused as [`Bytes`] by every
//!   listener ([`EMPTY_BLOCK`] is the `k = 0` block).
//! - [`encode_segment`] / [`encode_segment_with_block`]: M bytes of audio and a block, with no
//!   allocation beyond the output buffer's own growth.
//! - The sender-function style: [`send_request`], [`send_reply`], [`send_segment`] hand the
//!   bytes to a `FnMut(&[u8])` (a socket write, a `Vec`, a print).
//! - [`Framer`]: the encoder a live server really needs. A listener joins at any point of a
//!   stream, and the audio of a channel arrives in pieces of any size; the framer keeps the
//!   listener's position within the interval and inserts the block at every boundary, handing out
//!   slices of the caller's `Bytes` (reference-counted, never copied).
//!
//! # Parsing
//! [`Decoder`] is a continuation-style parser turned into a state machine that owns
//! its input buffer: [`Decoder::feed`] appends bytes as they arrive in pieces of any size, and
//! [`Decoder::next`] returns the three outcomes of a parse as `Ok(Some(item))` (parsed; the rest stays
//! buffered for the next call), `Ok(None)` (need more) and `Err` (error; the decoder then keeps
//! answering that error). For code written in continuation style, [`request`] and [`reply`] return an
//! [`Outcome`]: `Parsed(head, rest)`, `More(continuation)` or `Error`.
//!
//! Choices, and why:
//! - **Data already consumed is never scanned again.** Head lines are parsed and dropped one by
//!   one as their `\n` arrives, and the search for the next `\n` resumes where the previous search
//!   stopped; audio and metadata are counted, not scanned.
//! - **Bounded memory.** A head longer than [`Limits::max_head_bytes`] (16 KiB) or with more than
//!   [`Limits::max_headers`] (64) lines is an error as soon as the limit is crossed, however the
//!   bytes were split; a metadata block is at most 4081 bytes. The decoder itself holds no more
//!   than that plus what the caller fed since its last `next()`.
//! - **Audio is handed out as it arrives** ([`Item::Audio`], a zero-copy slice of the input
//!   buffer) rather than once a whole interval (32 KiB, two seconds at 128 kbit/s) is complete: a
//!   player or a relay forwards it at once. Each metadata block ends its segment
//!   ([`Item::Metadata`], also for empty blocks), and both carry the segment number, so a relay
//!   can detect a gap or a duplicate.
//! - **Lenient where real servers vary**: a bare `\n` ends a line like `\r\n`, spaces around a
//!   header value are dropped, header names are matched without regard to case, and leading
//!   empty lines before a start line are skipped. Text that is not UTF-8 (old servers send
//!   ISO-8859-1 titles and names) is read as Latin-1, so every byte becomes a character and
//!   nothing is replaced by `U+FFFD`.
//! - **Titles are not escaped**, because the de-facto format has no escaping: a title is written
//!   between single quotes as it is. The parser ends a quoted value at the first `';` that is
//!   followed by the end of the text or by the next field (`Key='`), so titles with quotes
//!   (`Guns N' Roses`), semicolons, `=`, non-ASCII and empty titles all survive a round trip.
//!   The one text that cannot is a value that itself contains `';Key='`, or ends with `';Key=`
//!   (it reads as two fields); a value cannot end with a NUL either, as trailing NULs are padding. This matches the
//!   `icy-metadata` crate's reading of such titles (tested against it).
//! - **A title too long for a block** (4080 bytes) is an error from [`encode_metadata`]
//!   ([`IcyError::MetadataTooLong`]), not a silent cut: the caller decides, and
//!   [`Metadata::truncate_to_fit`] cuts the title at a character boundary when that is what it
//!   wants (a live channel whose tags hold an absurd title).
//! - A reply that is not a success (`404`, `503`) has no metadata framing: its body comes out as
//!   plain [`Item::Audio`], whatever its `icy-metaint`; so does a reply without `icy-metaint`.

use thiserror::Error;

mod decoder;
mod head;
mod metadata;
mod outcome;
mod segment;
#[cfg(test)]
mod tests;

pub use decoder::{Decoder, Item, Limits};
pub use head::{
    Headers, IcyReply, IcyRequest, Protocol, encode_reply, encode_request, send_reply, send_request,
};
pub use metadata::Metadata;
pub use outcome::{Continuation, Outcome, reply, request};
pub use segment::{
    Framer, encode_metadata, encode_segment, encode_segment_with_block, send_segment,
    write_metadata_block,
};

/// The longest metadata text a block can carry: `k` is one byte, and a unit is 16 bytes.
pub const MAX_METADATA_LEN: usize = 255 * 16;
/// The metadata block of a segment without metadata (`k = 0`).
pub const EMPTY_BLOCK: &[u8] = &[0];
/// [`Limits::max_head_bytes`] by default.
pub const DEFAULT_MAX_HEAD_BYTES: usize = 16 * 1024;
/// [`Limits::max_headers`] by default.
pub const DEFAULT_MAX_HEADERS: usize = 64;

/// The longest piece of offending input an error message quotes.
const QUOTE_MAX: usize = 80;

/// What was wrong with the input (or, for [`IcyError::MetadataTooLong`], with what was to be
/// encoded).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IcyError {
    /// The request or reply head is longer than the limit (no end of head within it).
    #[error("head longer than {limit} bytes")]
    HeadTooLong {
        /// The limit in force ([`Limits::max_head_bytes`]).
        limit: usize,
    },
    /// The head has more header lines than the limit.
    #[error("more than {limit} header lines")]
    TooManyHeaders {
        /// The limit in force ([`Limits::max_headers`]).
        limit: usize,
    },
    /// The first line of a request is not `METHOD TARGET HTTP/1.x`.
    #[error("bad request line {0:?}")]
    BadRequestLine(String),
    /// The first line of a reply is not `ICY 200 OK` or `HTTP/1.x 200 OK`.
    #[error("bad status line {0:?}")]
    BadStatusLine(String),
    /// A header line without a colon, with an empty or spaced name, or a folded continuation.
    #[error("bad header line {0:?}")]
    BadHeader(String),
    /// `icy-metaint` is not a positive integer.
    #[error("bad icy-metaint {0:?}")]
    BadMetaint(String),
    /// The metadata text does not fit in one block.
    #[error("metadata text of {len} bytes is longer than the {MAX_METADATA_LEN} a block holds")]
    MetadataTooLong {
        /// Length of the text that was to be encoded.
        len: usize,
    },
}
