//! Fuzzes `grid_proto::icy::Decoder`: see `tests/support/icy_fuzz.rs` for the input layout and
//! the checks.
#![no_main]

#[path = "../../tests/support/icy_fuzz.rs"]
mod icy_fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| icy_fuzz::run(data));
