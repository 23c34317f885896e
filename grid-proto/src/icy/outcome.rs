//! The continuation style of parsing: a result, a request for more input, or an error.

use super::*;

/// What [`request`], [`reply`] and [`Continuation::resume`] return: parsed, need more, or an error.
#[derive(Debug)]
pub enum Outcome<T> {
    /// The head, and a decoder holding the rest: the body to read for a reply, what followed the
    /// head for a request ([`Decoder::into_rest`]).
    Parsed(T, Decoder),
    /// Need more input: resume with the next piece.
    More(Continuation<T>),
    /// The input is wrong.
    Error(IcyError),
}

/// A head parse waiting for more input; it remembers how far it got.
#[derive(Debug)]
pub struct Continuation<T> {
    decoder: Decoder,
    take: fn(Item) -> Option<T>,
}

impl<T> Continuation<T> {
    /// Parses on with `more` input.
    pub fn resume(mut self, more: &[u8]) -> Outcome<T> {
        self.decoder.feed(more);
        self.run()
    }

    fn run(mut self) -> Outcome<T> {
        match self.decoder.next() {
            Ok(Some(item)) => match (self.take)(item) {
                Some(head) => Outcome::Parsed(head, self.decoder),
                None => unreachable!("a head decoder yields its head first"),
            },
            Ok(None) => Outcome::More(self),
            Err(e) => Outcome::Error(e),
        }
    }
}

/// Parses a request head from `input`, or asks for more.
pub fn request(input: &[u8]) -> Outcome<IcyRequest> {
    let take = |item| match item {
        Item::Request(r) => Some(r),
        _ => None,
    };
    Continuation {
        decoder: Decoder::request(),
        take,
    }
    .resume(input)
}

/// Parses a reply head from `input`: the reply head, and the decoder that yields its segments.
pub fn reply(input: &[u8]) -> Outcome<IcyReply> {
    let take = |item| match item {
        Item::Reply(r) => Some(r),
        _ => None,
    };
    Continuation {
        decoder: Decoder::reply(),
        take,
    }
    .resume(input)
}
