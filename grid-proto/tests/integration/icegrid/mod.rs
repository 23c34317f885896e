//! IceGrid XML descriptors: a ZeroC-demo-style application translated into exactly the
//! descriptor its TOML twin parses to, every element without an equivalent warned with its
//! line, clear errors for bad XML, and `config/spotifice.xml` equal to `config/spotifice.toml`.

mod errors;
mod translate;
mod warnings;

use grid_proto::icegrid::{Translation, Warning, XmlError, translate};

pub const SIMPLE: &str = include_str!("../../data/icegrid/simple.xml");
pub const UNSUPPORTED: &str = include_str!("../../data/icegrid/unsupported.xml");

/// The 1-based line of the only occurrence of `needle` in `text`.
pub fn line_of(text: &str, needle: &str) -> u32 {
    let found: Vec<usize> = text.match_indices(needle).map(|(i, _)| i).collect();
    assert_eq!(found.len(), 1, "{needle:?} must occur once");
    (text[..found[0]].matches('\n').count() + 1) as u32
}

pub fn warning(text: &str, needle: &str, message: &str) -> Warning {
    Warning {
        line: line_of(text, needle),
        message: message.to_owned(),
    }
}

pub fn at(line: u32, message: &str) -> XmlError {
    XmlError {
        line: Some(line),
        message: message.to_owned(),
    }
}

pub fn translated(xml: &str) -> Translation {
    translate(xml).unwrap_or_else(|e| panic!("{e}"))
}

/// The error a descriptor gives, from translation or from expansion.
pub fn error(xml: &str) -> XmlError {
    match translate(xml) {
        Err(e) => e,
        Ok(t) => t.expand().expect_err("the descriptor should be rejected"),
    }
}
