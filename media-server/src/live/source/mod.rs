//! A channel's sources, each the clock of its channel: they act on it only through its
//! methods.
//!
//! - [`playlist`]: tracks of the library in real time, on the wall clock's schedule.
//! - [`relay`]: an upstream ICY or HTTP stream, re-broadcast.
//! - [`udp`]: MP3 datagrams from an external sender.
//! - [`silence`]: silent MP3 frames in real time, for when the others have nothing.

pub mod playlist;
pub mod relay;
pub mod silence;
pub mod udp;
