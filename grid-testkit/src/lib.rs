//! What the test suites and the benchmarks share, so each says only what it tests:
//! - [`bin`]: the workspace's built binaries;
//! - [`wait`]: polling a condition with a deadline, never a bare sleep;
//! - [`process`]: processes killed by pid (never by name), and what `/proc` tells of them;
//! - [`grid`]: a registry and nodes of real binaries in a temporary directory;
//! - [`app`]: application descriptors built in code, and the ones the suites share;
//! - `browser` (feature `browser`): a headless chromium over WebDriver.
//!
//! Everything here panics on failure: it runs only in tests and benchmarks, where a panic with a
//! clear message is the report.

pub mod app;
mod bins;
#[cfg(feature = "browser")]
pub mod browser;
pub mod grid;
pub mod metrics;
pub mod process;
pub mod views;
pub mod wait;

pub use app::App;
pub use bins::{bin, bin_dir};
pub use grid::{Grid, Place};
pub use process::{Killed, alive, free_port, kill_group, kill9};
pub use wait::{wait_for, wait_until};
