//! Integration tests of `media-server`: one test binary.

mod default_application;
mod fuzz_seeds;
mod helper;
mod library;
mod live;
mod metrics;
mod streams;
mod tracks;
mod tree;
mod udp;
