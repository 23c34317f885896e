//! grid-proto's tests, one binary for the crate (link time): the ICY codec's properties and a
//! cross-check (`icy`), the fuzz harness on its seed corpus (`fuzz_seeds`), and IceGrid XML
//! (`icegrid`).

mod fuzz_seeds;
mod icegrid;
mod icy;
// Shared with the fuzz target, which includes the same file.
#[path = "../support/icy_fuzz.rs"]
mod icy_fuzz;
