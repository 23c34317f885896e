//! `media-synth`: a small deterministic synthesiser for the demo music library. A seed, a style, a
//! key and a tempo make a song (drums, bass, chord pads, a melody); the output is raw 16-bit
//! little-endian stereo PCM at 44.1 kHz, which `lame -r` encodes. The same arguments always give the
//! same bytes, on any machine, so the library's track ids (hashes of the files) never change.
//!
//! - [`cli`]: the command line.
//! - [`song`]: the composer and arranger.
//! - [`instruments`]: drums and synth voices.
//! - [`wave`]: oscillators, envelopes, filters, pitch.
//! - [`mix`]: the mix bus and the master stage to PCM.
//! - [`rng`]: the seeded random numbers.

pub mod cli;
pub mod instruments;
pub mod mix;
pub mod rng;
pub mod song;
pub mod wave;
