//! Fuzzes the control port's command parser: see `tests/support/control_fuzz.rs` for the
//! checks.
#![no_main]

#[path = "../../tests/support/control_fuzz.rs"]
mod control_fuzz;

libfuzzer_sys::fuzz_target!(|data: &[u8]| control_fuzz::run(data));
