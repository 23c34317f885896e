//! grid-proto's tests, one binary for the crate (link time): the ICY codec's properties and a
//! cross-check (`icy`), the fuzz harnesses on their seed corpora (`fuzz_seeds`), and IceGrid XML
//! (`icegrid`).

mod fuzz_seeds;
mod icegrid;
mod icy;
// Shared with the fuzz targets, which include the same files.
#[path = "../support/descriptor_fuzz.rs"]
mod descriptor_fuzz;
#[path = "../support/icy_fuzz.rs"]
mod icy_fuzz;
