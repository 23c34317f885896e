//! The node's tests, one binary for the crate (link time): the real `gridnode` against a tiny
//! in-process registry, `sh -c` servers, and `scripts/install.sh` into a temporary prefix.

mod helper;
mod install;
mod metrics;
mod service;
mod supervise;
