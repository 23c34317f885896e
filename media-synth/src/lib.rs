//! `media-synth`: a small deterministic synthesiser for the demo music library. A seed, a style, a
//! key and a tempo make a song (drums, bass, chord pads, a melody); the output is raw 16-bit
//! little-endian stereo PCM at 44.1 kHz, which [`mp3`] encodes in process with ID3 tags. The same
//! arguments always give the same bytes, on any machine, so the library's track ids (hashes of the
//! files) never change.
//!
//! - [`cli`]: the command line.
//! - [`library`]: the demo library's tracks, and making the missing ones.
//! - [`mp3`]: MP3 encoding (LAME, built from source) and ID3v2/ID3v1 tags.
//! - [`song`]: the composer and arranger.
//! - [`instruments`]: drums and synth voices.
//! - [`wave`]: oscillators, envelopes, filters, pitch.
//! - [`mix`]: the mix bus and the master stage to PCM.
//! - [`rng`]: the seeded random numbers.

pub mod cli;
pub mod instruments;
pub mod library;
pub mod mix;
pub mod mp3;
pub mod rng;
pub mod song;
pub mod wave;
