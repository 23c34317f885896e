//! `media-control icy-decode`: an ICY stream on standard input, decoded with the grid's own codec
//! (`grid_proto::icy`), for people checking a channel by hand:
//! `curl -s -H 'Icy-MetaData: 1' http://SERVER/live/lounge | head -c 200000 | media-control icy-decode`.
//!
//! Input that starts with a reply head (`curl -i`) gives its own `icy-metaint`; a bare body is
//! framed by `--metaint` (the grid's channels use 16000 unless configured otherwise).

use std::io::Read;
use std::num::NonZeroUsize;

use anyhow::Context;
use grid_proto::icy::{Decoder, Item};
use serde::Serialize;

use crate::output::Output;

/// What a stream held.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// The reply head's status line, when the input had one.
    pub status: Option<String>,
    /// The metaint used.
    pub metaint: Option<usize>,
    /// Audio bytes.
    pub audio_bytes: u64,
    /// Metadata blocks, empty ones included.
    pub blocks: u64,
    /// Each distinct title, in order, with the segment it first came in.
    pub titles: Vec<(u64, String)>,
    /// The input ended inside a segment (normal for `head -c`).
    pub truncated: bool,
}

/// Decodes `input` to the end.
pub fn decode(mut input: impl Read, metaint: NonZeroUsize) -> anyhow::Result<Summary> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut summary = Summary::default();
    let mut decoder: Option<Decoder> = None;
    let mut in_segment = false;
    loop {
        let n = input.read(&mut buf).context("reading standard input")?;
        if n == 0 {
            break;
        }
        let d = decoder.get_or_insert_with(|| {
            // A head starts with its protocol word; anything else is a body.
            if buf[..n].starts_with(b"ICY ") || buf[..n].starts_with(b"HTTP/") {
                Decoder::reply()
            } else {
                summary.metaint = Some(metaint.get());
                Decoder::body(Some(metaint))
            }
        });
        d.feed(&buf[..n]);
        while let Some(item) = d.next().context("the stream is not valid ICY")? {
            match item {
                Item::Reply(reply) => {
                    summary.status = Some(format!("{} {}", reply.status, reply.reason));
                    summary.metaint = reply.metaint().ok().flatten().map(NonZeroUsize::get);
                }
                Item::Audio { data, .. } => {
                    summary.audio_bytes += data.len() as u64;
                    in_segment = true;
                }
                Item::Metadata { segment, metadata } => {
                    summary.blocks += 1;
                    in_segment = false;
                    if let Some(title) = metadata.and_then(|m| m.stream_title)
                        && summary.titles.last().map(|(_, t)| t) != Some(&title)
                    {
                        summary.titles.push((segment, title));
                    }
                }
                Item::Request(_) => {}
            }
        }
    }
    summary.truncated = in_segment;
    Ok(summary)
}

/// Prints a summary for people (or as JSON).
pub fn print(summary: &Summary, out: &Output) {
    if out.json {
        out.json(summary);
        return;
    }
    let mut text = String::new();
    if let Some(status) = &summary.status {
        text.push_str(&format!("reply:       {status}\n"));
    }
    match summary.metaint {
        Some(m) => text.push_str(&format!("metaint:     {m}\n")),
        None => text.push_str("metaint:     none (plain audio)\n"),
    }
    text.push_str(&format!(
        "audio:       {} bytes in {} segments{}\n",
        summary.audio_bytes,
        summary.blocks,
        if summary.truncated {
            " (the input ends inside the last one)"
        } else {
            ""
        }
    ));
    for (segment, title) in &summary.titles {
        text.push_str(&format!(
            "title:       {title}   (from segment {segment})\n"
        ));
    }
    if summary.titles.is_empty() {
        text.push_str("title:       none\n");
    }
    out.text(&text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use grid_proto::icy::{IcyReply, Metadata, encode_reply, encode_segment};

    fn stream(head: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if head {
            let reply = IcyReply::icy_ok().with_header("icy-metaint", "8");
            encode_reply(&reply, &mut out);
        }
        for (i, title) in ["A - One", "A - One", "B - Two"].iter().enumerate() {
            let meta = Metadata {
                stream_title: Some((*title).into()),
                ..Metadata::default()
            };
            encode_segment(&[i as u8; 8], Some(&meta), &mut out).unwrap();
        }
        out.extend_from_slice(b"abc");
        out
    }

    #[test]
    fn a_body_or_a_whole_reply_gives_the_titles_in_order() {
        for head in [false, true] {
            let s = decode(&stream(head)[..], NonZeroUsize::new(8).unwrap()).unwrap();
            assert_eq!(s.audio_bytes, 27);
            assert_eq!(s.blocks, 3);
            assert_eq!(
                s.titles,
                [(0, "A - One".to_owned()), (2, "B - Two".to_owned())]
            );
            assert!(s.truncated);
            assert_eq!(s.status.is_some(), head);
            assert_eq!(s.metaint, Some(8));
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let reply = b"ICY 200 OK\r\nicy-metaint: nope\r\n\r\n";
        assert!(decode(&reply[..], NonZeroUsize::new(8).unwrap()).is_err());
    }
}
