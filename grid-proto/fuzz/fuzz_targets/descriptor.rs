//! Fuzzes the descriptor parsers (TOML, JSON, IceGrid XML): see
//! `tests/support/descriptor_fuzz.rs` for the checks.
#![no_main]

#[path = "../../tests/support/descriptor_fuzz.rs"]
mod descriptor_fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| descriptor_fuzz::run(data));
