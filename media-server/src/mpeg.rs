//! MPEG audio frame headers: whether a track has a variable bitrate (lofty reads the Xing/Info
//! header but does not say which of the two it found, so this reads the first frame itself),
//! where a file's audio starts and ends (ID3 tags around it), frame walking and cutting for live
//! channels ([`Aligner`]), and silent frames.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use bytes::{Bytes, BytesMut};

/// How much of the audio, after the ID3v2 tag, is searched for frames.
const WINDOW: usize = 64 * 1024;
/// Frames compared when the first frame has no VBR header.
const FRAMES_COMPARED: usize = 64;

/// Layer III bitrates (kbit/s) by index: MPEG-1, then MPEG-2 and 2.5.
const BITRATES_V1: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const BITRATES_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/// The longest Layer III frame (MPEG-2.5 at 8 kHz and 160 kbit/s, padded).
pub const MAX_FRAME_LEN: usize = 2881;

/// A Layer III frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// MPEG-1 (else 2 or 2.5).
    pub mpeg1: bool,
    /// Single channel.
    pub mono: bool,
    /// Bitrate.
    pub bitrate_kbps: u32,
    /// Samples per second.
    pub sample_rate: u32,
    /// Bytes of the whole frame, header included.
    pub len: usize,
}

impl FrameHeader {
    /// Parses the four header bytes at the start of `b`; `None` if they are not a Layer III
    /// header with a usable bitrate and sample rate.
    pub fn parse(b: &[u8]) -> Option<Self> {
        let [b0, b1, b2, b3, ..] = *b else {
            return None;
        };
        if b0 != 0xFF || b1 & 0xE0 != 0xE0 {
            return None;
        }
        let version = (b1 >> 3) & 3; // 0 = 2.5, 1 = reserved, 2 = 2, 3 = 1
        let layer = (b1 >> 1) & 3; // 1 = III
        if version == 1 || layer != 1 {
            return None;
        }
        let bitrate_index = usize::from(b2 >> 4);
        let rate_index = usize::from((b2 >> 2) & 3);
        if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
            return None;
        }
        let mpeg1 = version == 3;
        let bitrate_kbps = if mpeg1 {
            BITRATES_V1[bitrate_index]
        } else {
            BITRATES_V2[bitrate_index]
        };
        let sample_rate = [44_100, 48_000, 32_000][rate_index]
            >> match version {
                3 => 0,
                2 => 1,
                _ => 2,
            };
        let padding = usize::from((b2 >> 1) & 1);
        let per_kbit = if mpeg1 { 144_000 } else { 72_000 };
        let len = (per_kbit * bitrate_kbps / sample_rate) as usize + padding;
        Some(Self {
            mpeg1,
            mono: b3 >> 6 == 3,
            bitrate_kbps,
            sample_rate,
            len,
        })
    }

    /// Whether `next` can follow this frame in one stream: bitrates may vary, the rest may not.
    pub fn same_stream(self, next: Self) -> bool {
        (self.mpeg1, self.sample_rate, self.mono) == (next.mpeg1, next.sample_rate, next.mono)
    }

    /// Samples in one frame (per channel).
    pub fn samples(self) -> u32 {
        if self.mpeg1 { 1152 } else { 576 }
    }

    /// Where a Xing/Info header would start, from the frame's first byte.
    fn xing_offset(self) -> usize {
        4 + match (self.mpeg1, self.mono) {
            (true, false) => 32,
            (true, true) | (false, false) => 17,
            (false, true) => 9,
        }
    }
}

/// Whether `frame` (starting at its header) is a Xing/Info/VBRI frame: an encoder's header frame
/// that carries no audio, worth skipping when a track is played mid-stream.
pub fn is_info_frame(frame: &[u8]) -> bool {
    let Some(header) = FrameHeader::parse(frame) else {
        return false;
    };
    let at = |offset: usize, tag: &[u8]| frame.get(offset..offset + tag.len()) == Some(tag);
    let xing = header.xing_offset();
    at(xing, b"Xing") || at(xing, b"Info") || at(36, b"VBRI")
}

/// A silent frame shaped like the frame whose header is `header` (same version, bitrate, sample
/// rate and channel mode; no padding, no CRC): a header then zeros. Zero side information means
/// no main data and no coded samples, which decoders play as silence. `None` for a header that is
/// not Layer III.
pub fn silent_frame(header: [u8; 4]) -> Option<Vec<u8>> {
    // Protection bit set (no CRC), padding and private bits cleared.
    let header = [header[0], header[1] | 1, header[2] & 0xFC, header[3]];
    let parsed = FrameHeader::parse(&header)?;
    let mut frame = vec![0u8; parsed.len];
    frame[..4].copy_from_slice(&header);
    Some(frame)
}

/// The header of a 128 kbit/s joint-stereo MPEG-1 Layer III frame at 44.1 kHz, for silence
/// when nothing says which shape to use.
pub const DEFAULT_HEADER: [u8; 4] = [0xFF, 0xFB, 0x90, 0x44];

/// Where the audio of `file` (of `size` bytes) lies: after an ID3v2 tag, before an ID3v1 one.
pub fn audio_range(file: &File, size: u64) -> io::Result<(u64, u64)> {
    let start = id3v2_end(file)?.min(size);
    let mut end = size;
    let mut tag = [0u8; 3];
    if size >= start + 128 && read_fully_at(file, &mut tag, size - 128)? == 3 && &tag == b"TAG" {
        end = size - 128;
    }
    Ok((start, end))
}

fn id3v2_end(file: &File) -> io::Result<u64> {
    let mut id3 = [0u8; 10];
    Ok(
        if read_fully_at(file, &mut id3, 0)? == 10 && &id3[..3] == b"ID3" {
            let size = id3[6..10]
                .iter()
                .fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7F));
            let footer = if id3[5] & 0x10 != 0 { 10 } else { 0 };
            10 + size + footer
        } else {
            0
        },
    )
}

/// Whether a frame starts at `at` in `data`: a header whose frame is followed by a header of the
/// same stream (version, sample rate, channels) or by the end of `data`. A lone sync pattern
/// inside other data is not a frame, nor one that happens to end on a real frame: its made-up
/// header almost never agrees with the real one.
pub fn frame_at(data: &[u8], at: usize) -> Option<FrameHeader> {
    let header = FrameHeader::parse(data.get(at..)?)?;
    let next = at + header.len;
    (next + 4 > data.len()
        || FrameHeader::parse(&data[next..]).is_some_and(|n| header.same_stream(n)))
    .then_some(header)
}

/// Audio without a frame in this many bytes is passed on as it is (not MP3 we can cut).
const MAX_UNALIGNED: usize = 64 * 1024;

/// Cuts a byte stream at MP3 frame boundaries.
#[derive(Debug, Default)]
pub struct Aligner {
    pending: BytesMut,
    /// The last frame's header (the shape of silence).
    header: Option<[u8; 4]>,
}

impl Aligner {
    /// Appends received bytes.
    pub fn extend(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
    }

    /// The bytes not yet taken, to append to.
    pub fn pending_mut(&mut self) -> &mut BytesMut {
        &mut self.pending
    }

    /// Bytes not yet taken.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Drops the bytes not yet taken (a partial frame of a stream that stopped).
    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// The last whole frame's header, if any was taken.
    pub fn last_header(&self) -> Option<[u8; 4]> {
        self.header
    }

    /// The whole frames received so far, from a frame boundary.
    pub fn take(&mut self) -> Option<Bytes> {
        let mut off = 0;
        let buf = &self.pending;
        // Resync on a frame that is followed by another (or by the end).
        if FrameHeader::parse(buf).is_none() {
            match (1..buf.len().saturating_sub(3)).find(|&i| frame_at(buf, i).is_some()) {
                Some(i) => {
                    let _ = self.pending.split_to(i);
                }
                None if buf.len() > MAX_UNALIGNED => return Some(self.pending.split().freeze()),
                None => return None,
            }
        }
        let buf = &self.pending;
        let mut last = None;
        while let Some(h) = FrameHeader::parse(&buf[off..]) {
            if off + h.len > buf.len() {
                break;
            }
            last = Some(off);
            off += h.len;
        }
        if let Some(at) = last {
            self.header = Some([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
        }
        (off > 0).then(|| self.pending.split_to(off).freeze())
    }
}

/// Whether the MPEG audio in `file` has a variable bitrate: a `Xing` or `VBRI` header in the
/// first frame says yes, `Info` (what encoders write for CBR) says no; without one, the
/// bitrates of the first frames decide.
pub fn is_vbr(file: &File) -> io::Result<bool> {
    let start = id3v2_end(file)?;
    let mut window = vec![0u8; WINDOW];
    let got = read_fully_at(file, &mut window, start)?;
    Ok(vbr_in(&window[..got]))
}

fn vbr_in(audio: &[u8]) -> bool {
    let Some((first, header)) = first_frame(audio) else {
        return false;
    };
    let at = |offset: usize, tag: &[u8]| audio.get(offset..offset + tag.len()) == Some(tag);
    let xing = first + header.xing_offset();
    if at(xing, b"Xing") || at(first + 36, b"VBRI") {
        return true;
    }
    if at(xing, b"Info") {
        return false;
    }
    let mut offset = first;
    for _ in 0..FRAMES_COMPARED {
        match audio.get(offset..).and_then(FrameHeader::parse) {
            Some(frame) if frame.bitrate_kbps != header.bitrate_kbps => return true,
            Some(frame) => offset += frame.len,
            None => break,
        }
    }
    false
}

/// The first offset where a frame starts (see [`frame_at`]).
fn first_frame(audio: &[u8]) -> Option<(usize, FrameHeader)> {
    (0..audio.len().saturating_sub(4)).find_map(|i| Some((i, frame_at(audio, i)?)))
}

/// Reads into `buf` at `offset` until it is full or the file ends; returns the bytes read.
fn read_fully_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 128 kbit/s (index 9) or 160 kbit/s (index 10) MPEG-1 Layer III stereo frame at
    /// 44.1 kHz, zero-filled, with `tag` where a Xing header goes.
    fn frame(bitrate_index: u8, tag: &[u8]) -> Vec<u8> {
        let header = [0xFF, 0xFB, bitrate_index << 4, 0x00];
        let len = FrameHeader::parse(&header).unwrap().len;
        let mut frame = vec![0u8; len];
        frame[..4].copy_from_slice(&header);
        frame[36..36 + tag.len()].copy_from_slice(tag);
        frame
    }

    #[test]
    fn frame_lengths_follow_the_bitrate() {
        assert_eq!(
            FrameHeader::parse(&[0xFF, 0xFB, 0x90, 0x00]).unwrap().len,
            417
        );
        assert_eq!(
            FrameHeader::parse(&[0xFF, 0xFB, 0x92, 0x00]).unwrap().len,
            418
        );
        assert!(FrameHeader::parse(&[0xFF, 0xFB, 0xF0, 0x00]).is_none());
        assert!(FrameHeader::parse(b"ID3\x04").is_none());
    }

    #[test]
    fn a_sync_pattern_ending_on_a_real_frame_is_not_a_frame() {
        // Seen in a lame file: inside a 128 kbit/s MPEG-1 frame, bytes that read as a 168-byte
        // MPEG-2 frame ending exactly where the next real frame starts.
        let mut data = frame(9, b"");
        data[249..253].copy_from_slice(&[0xFF, 0xF3, 0x74, 0x10]);
        assert_eq!(FrameHeader::parse(&data[249..]).unwrap().len, 168);
        data.truncate(249 + 168);
        data.extend(frame(9, b""));
        data.extend(frame(9, b""));
        assert!(frame_at(&data, 249).is_none());
        assert!(frame_at(&data, 0).is_some());
        assert_eq!(first_frame(&data[1..]).map(|(i, _)| i), Some(416));
    }

    #[test]
    fn xing_means_vbr_and_info_means_cbr() {
        let mut xing = b"junk".to_vec();
        xing.extend(frame(9, b"Xing"));
        xing.extend(frame(9, b""));
        assert!(vbr_in(&xing));
        let mut info = frame(9, b"Info");
        info.extend(frame(9, b""));
        assert!(!vbr_in(&info));
    }

    #[test]
    fn without_a_header_the_bitrates_decide() {
        let cbr: Vec<u8> = (0..5).flat_map(|_| frame(9, b"")).collect();
        assert!(!vbr_in(&cbr));
        let vbr: Vec<u8> = [9, 9, 10, 9].iter().flat_map(|&i| frame(i, b"")).collect();
        assert!(vbr_in(&vbr));
        assert!(!vbr_in(b"not audio at all"));
    }

    #[test]
    fn the_aligner_cuts_at_frames_and_skips_junk() {
        let frame = silent_frame(DEFAULT_HEADER).unwrap();
        let mut a = Aligner::default();
        a.extend(b"junk");
        a.extend(&frame);
        a.extend(&frame);
        a.extend(&frame[..100]);
        let out = a.take().unwrap();
        assert_eq!(out.len(), 2 * frame.len());
        assert_eq!(&out[..4], &frame[..4]);
        assert_eq!(a.pending_len(), 100);
        assert!(a.take().is_none());
        a.extend(&frame[100..]);
        assert_eq!(a.take().unwrap().len(), frame.len());
        assert_eq!(a.last_header(), Some(DEFAULT_HEADER));
    }
}
