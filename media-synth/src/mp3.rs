//! MP3 encoding in process: LAME (built from its vendored source by `mp3lame-encoder`, so no
//! `lame` program is needed) plus ID3v2.3 and ID3v1 tags written with `lofty`.
//!
//! The file is laid out as players expect: the ID3v2 tag, LAME's Xing/Info frame (frame count and
//! seek table, so a VBR file's duration is known without scanning it), the audio frames, then the
//! ID3v1 tag. LAME is deterministic for the same input and settings, so the same song always gives
//! the same bytes.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, anyhow, bail};
use lofty::TextEncoding;
use lofty::config::WriteOptions;
use lofty::id3::v1::Id3v1Tag;
use lofty::id3::v2::{Frame, FrameId, Id3v2Tag, TimestampFrame};
use lofty::tag::items::Timestamp;
use lofty::tag::{Accessor, TagExt};
use mp3lame_encoder::{Bitrate, Builder, FlushNoGap, InterleavedPcm, Mode, Quality, VbrMode};

/// The only input format: what `song::render` makes.
pub const SAMPLE_RATE: u32 = 44_100;

/// How the audio is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Constant bit rate, in kbit/s (`cbr:128`).
    Cbr(u16),
    /// LAME's VBR at quality 0 (best) to 9 (`vbr:2` is `lame -V 2`).
    Vbr(u8),
}

impl FromStr for Encoding {
    type Err = String;

    /// `cbr:KBPS` (an MPEG-1 layer III rate) or `vbr:Q` (0..=9).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not an encoding (cbr:KBPS with KBPS 32..320, or vbr:0..9)");
        let (kind, value) = s.split_once(':').ok_or_else(bad)?;
        match kind {
            "cbr" => {
                let kbps: u16 = value.parse().map_err(|_| bad())?;
                bitrate(kbps).map_err(|_| bad())?;
                Ok(Self::Cbr(kbps))
            }
            "vbr" => match value.parse::<u8>() {
                Ok(q) if q <= 9 => Ok(Self::Vbr(q)),
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cbr(kbps) => write!(f, "cbr:{kbps}"),
            Self::Vbr(q) => write!(f, "vbr:{q}"),
        }
    }
}

/// The tags a track carries, in both ID3v2 and ID3v1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub year: Option<u16>,
    /// Track number and the album's track count.
    pub track: Option<(u32, u32)>,
}

impl Tags {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Encodes interleaved stereo 16-bit PCM at 44.1 kHz as a tagged MP3 file.
pub fn encode(pcm: &[i16], encoding: Encoding, tags: &Tags) -> anyhow::Result<Vec<u8>> {
    if !pcm.len().is_multiple_of(2) {
        bail!(
            "stereo PCM must hold an even number of samples, not {}",
            pcm.len()
        );
    }
    let audio = encode_audio(pcm, encoding)?;
    if tags.is_empty() {
        return Ok(audio);
    }
    let mut file = id3v2(tags)?;
    file.extend_from_slice(&audio);
    file.extend_from_slice(&id3v1(tags)?);
    Ok(file)
}

/// The same, from the little-endian bytes `song::render` returns.
pub fn encode_le_bytes(pcm: &[u8], encoding: Encoding, tags: &Tags) -> anyhow::Result<Vec<u8>> {
    if !pcm.len().is_multiple_of(4) {
        bail!(
            "16-bit stereo PCM must be a multiple of 4 bytes long, not {}",
            pcm.len()
        );
    }
    let samples: Vec<i16> = pcm
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    encode(&samples, encoding, tags)
}

/// LAME's frames, the first one being the Xing/Info frame filled in after the flush.
fn encode_audio(pcm: &[i16], encoding: Encoding) -> anyhow::Result<Vec<u8>> {
    let lame_err = |what: &str| {
        let what = what.to_owned();
        move |e: mp3lame_encoder::BuildError| anyhow!("LAME refused {what}: {e:?}")
    };
    let mut builder = Builder::new().context("LAME could not allocate an encoder")?;
    builder
        .set_num_channels(2)
        .map_err(lame_err("2 channels"))?;
    builder
        .set_sample_rate(SAMPLE_RATE)
        .map_err(lame_err("44.1 kHz"))?;
    builder
        .set_mode(Mode::JointStereo)
        .map_err(lame_err("joint stereo"))?;
    // `lame -h`: better than the default and still fast enough for minutes of audio.
    builder
        .set_quality(Quality::NearBest)
        .map_err(lame_err("quality 2"))?;
    match encoding {
        Encoding::Cbr(kbps) => {
            builder
                .set_vbr_mode(VbrMode::Off)
                .map_err(lame_err("CBR"))?;
            builder
                .set_brate(bitrate(kbps)?)
                .map_err(lame_err("the bit rate"))?;
        }
        Encoding::Vbr(q) => {
            builder
                .set_vbr_mode(VbrMode::Mtrh)
                .map_err(lame_err("VBR"))?;
            builder
                .set_vbr_quality(vbr_quality(q)?)
                .map_err(lame_err("the VBR quality"))?;
        }
    }
    builder
        .set_to_write_vbr_tag(true)
        .map_err(lame_err("the Xing/Info frame"))?;
    let mut encoder = builder
        .build()
        .map_err(|e| anyhow!("LAME refused the settings: {e:?}"))?;

    let frames = pcm.len() / 2;
    let mut out = Vec::with_capacity(mp3lame_encoder::max_required_buffer_size(frames));
    // Bounded slices keep LAME's worst-case output buffer small for long songs.
    for chunk in pcm.chunks(2 * 1152 * 64) {
        out.reserve(mp3lame_encoder::max_required_buffer_size(chunk.len() / 2));
        encoder
            .encode_to_vec(InterleavedPcm(chunk), &mut out)
            .map_err(|e| anyhow!("LAME could not encode: {e:?}"))?;
    }
    out.reserve(7200);
    encoder
        .flush_to_vec::<FlushNoGap>(&mut out)
        .map_err(|e| anyhow!("LAME could not flush: {e:?}"))?;

    // LAME reserved the Xing/Info frame at the start (a frame header, then zeros); now that it
    // knows every frame, fill it in.
    let mut tag = Vec::with_capacity(encoder.lame_tag_size());
    encoder
        .lame_tag_encode_to_vec(&mut tag)
        .context("LAME wrote no Xing/Info frame")?;
    let reserved = tag.len() >= 4
        && out.len() >= tag.len()
        && out[0] == 0xff
        && out[1] & 0xe0 == 0xe0
        && out[4..tag.len()].iter().all(|&b| b == 0);
    if !reserved {
        bail!(
            "LAME's output does not start with the {} bytes reserved for its Xing/Info frame",
            tag.len()
        );
    }
    out[..tag.len()].copy_from_slice(&tag);
    Ok(out)
}

fn bitrate(kbps: u16) -> anyhow::Result<Bitrate> {
    Ok(match kbps {
        32 => Bitrate::Kbps32,
        40 => Bitrate::Kbps40,
        48 => Bitrate::Kbps48,
        64 => Bitrate::Kbps64,
        80 => Bitrate::Kbps80,
        96 => Bitrate::Kbps96,
        112 => Bitrate::Kbps112,
        128 => Bitrate::Kbps128,
        160 => Bitrate::Kbps160,
        192 => Bitrate::Kbps192,
        224 => Bitrate::Kbps224,
        256 => Bitrate::Kbps256,
        320 => Bitrate::Kbps320,
        _ => bail!(
            "{kbps} kbit/s is not an MPEG-1 layer III bit rate (32, 40, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)"
        ),
    })
}

fn vbr_quality(q: u8) -> anyhow::Result<Quality> {
    Ok(match q {
        0 => Quality::Best,
        1 => Quality::SecondBest,
        2 => Quality::NearBest,
        3 => Quality::VeryNice,
        4 => Quality::Nice,
        5 => Quality::Good,
        6 => Quality::Decent,
        7 => Quality::Ok,
        8 => Quality::SecondWorst,
        9 => Quality::Worst,
        _ => bail!("VBR quality {q} is out of range 0..=9"),
    })
}

/// ID3v2.3: the version every player reads.
fn id3v2(tags: &Tags) -> anyhow::Result<Vec<u8>> {
    let mut tag = Id3v2Tag::new();
    set_common(&mut tag, tags);
    // As a timestamp frame, which lofty writes as TYER in v2.3 (a TDRC text frame it would drop).
    if let Some(year) = tags.year {
        tag.insert(Frame::Timestamp(TimestampFrame::new(
            FrameId::Valid("TDRC".into()),
            TextEncoding::Latin1,
            year_stamp(year),
        )));
    }
    let mut bytes = Vec::new();
    let mut options = WriteOptions::new();
    options.use_id3v23(true);
    tag.dump_to(&mut bytes, options.preferred_padding(0))
        .context("writing the ID3v2 tag")?;
    Ok(bytes)
}

/// ID3v1 at the end, for players that read nothing else (it truncates fields to 30 bytes).
fn id3v1(tags: &Tags) -> anyhow::Result<Vec<u8>> {
    let mut tag = Id3v1Tag::new();
    set_common(&mut tag, tags);
    if let Some(year) = tags.year {
        tag.set_date(year_stamp(year));
    }
    let mut bytes = Vec::new();
    tag.dump_to(&mut bytes, WriteOptions::new())
        .context("writing the ID3v1 tag")?;
    Ok(bytes)
}

fn set_common(tag: &mut impl Accessor, tags: &Tags) {
    if let Some(title) = &tags.title {
        tag.set_title(title.clone());
    }
    if let Some(artist) = &tags.artist {
        tag.set_artist(artist.clone());
    }
    if let Some(album) = &tags.album {
        tag.set_album(album.clone());
    }
    if let Some((number, of)) = tags.track {
        tag.set_track(number);
        tag.set_track_total(of);
    }
}

fn year_stamp(year: u16) -> Timestamp {
    Timestamp {
        year,
        ..Timestamp::default()
    }
}
