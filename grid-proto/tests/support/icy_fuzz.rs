//! The ICY decoder's fuzz harness, shared by the `cargo fuzz` target (`fuzz/`) and by
//! `tests/integration/fuzz_seeds.rs`, which runs it on the seed corpus so that CI, on stable Rust,
//! exercises the same checks.
//!
//! Input: a mode byte (request, reply, reply with small limits, body), a metaint byte, a byte
//! seeding the split, then the bytes to parse. Checks: no panic; the input fed in pieces gives
//! the same items, error and final state as fed whole; while the decoder waits for more, it
//! holds no more than its limits plus the last piece.

use std::num::NonZeroUsize;

use bytes::Bytes;
use grid_proto::icy::{Decoder, IcyError, Item, Limits, Metadata};

const SMALL: Limits = Limits {
    max_head_bytes: 200,
    max_headers: 4,
};

fn decoder(mode: u8, metaint: usize) -> (Decoder, Limits) {
    match mode % 4 {
        0 => (Decoder::request(), Limits::default()),
        1 => (Decoder::reply(), Limits::default()),
        2 => (Decoder::reply().with_limits(SMALL), SMALL),
        _ => (Decoder::body(NonZeroUsize::new(metaint)), Limits::default()),
    }
}

struct Run {
    items: Vec<Item>,
    error: Option<IcyError>,
    segment: u64,
    rest: Vec<u8>,
}

fn decode(mode: u8, metaint: usize, input: &[u8], pieces: &mut dyn Iterator<Item = usize>) -> Run {
    let (mut d, limits) = decoder(mode, metaint);
    let mut items = Vec::new();
    let mut from = 0;
    let mut head_done = false;
    while from < input.len() {
        let to = (from + pieces.next().unwrap_or(input.len())).min(input.len());
        d.feed(&input[from..to]);
        loop {
            match d.next() {
                Ok(Some(item)) => {
                    head_done |= matches!(item, Item::Request(_));
                    push(&mut items, item);
                }
                Ok(None) => break,
                Err(e) => {
                    // The error sticks.
                    assert_eq!(d.next(), Err(e.clone()));
                    return Run {
                        items,
                        error: Some(e),
                        segment: d.segment(),
                        rest: Vec::new(),
                    };
                }
            }
        }
        // A request's decoder is done after its head and keeps what follows, unbounded by
        // design (the caller stops feeding it); every other state is bounded.
        if !head_done {
            let bound = limits.max_head_bytes.max(255 * 16);
            assert!(
                d.rest().len() <= bound + (to - from),
                "{} bytes buffered",
                d.rest().len()
            );
        }
        from = to;
    }
    Run {
        items,
        error: None,
        segment: d.segment(),
        rest: d.rest().to_vec(),
    }
}

/// Appends an item, joining audio pieces of one segment so that splits compare.
pub fn push(items: &mut Vec<Item>, item: Item) {
    if let (
        Some(Item::Audio {
            segment: s0,
            data: d0,
        }),
        Item::Audio { segment, data },
    ) = (items.last_mut(), &item)
        && s0 == segment
    {
        let mut joined = d0.to_vec();
        joined.extend_from_slice(data);
        *d0 = Bytes::from(joined);
        return;
    }
    items.push(item);
}

/// Piece lengths from 1 to 32, from a xorshift seeded by `seed`.
fn pieces(seed: u8) -> impl Iterator<Item = usize> {
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761) | 1;
    std::iter::from_fn(move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        Some((x % 32) as usize + 1)
    })
}

/// The fuzz target's body.
pub fn run(data: &[u8]) {
    let [mode, metaint, seed, input @ ..] = data else {
        return;
    };
    let metaint = usize::from(*metaint) + 1;
    let _ = Metadata::parse(input);
    let whole = decode(*mode, metaint, input, &mut std::iter::empty());
    let split = decode(*mode, metaint, input, &mut pieces(*seed));
    assert_eq!(split.items, whole.items);
    assert_eq!(split.error, whole.error);
    assert_eq!(split.segment, whole.segment);
    assert_eq!(split.rest, whole.rest);
    let bytewise = decode(*mode, metaint, input, &mut std::iter::repeat(1));
    assert_eq!(bytewise.items, whole.items);
    assert_eq!(bytewise.error, whole.error);
}
