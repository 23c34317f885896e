//! The workspace's binaries, found beside the running test or benchmark.

use std::path::{Path, PathBuf};

/// The folder cargo put the workspace's binaries in: a test runs from its `deps/` subfolder, a
/// benchmark binary from the folder itself.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running executable");
    let dir = exe.parent().expect("the executable's folder");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap_or(dir).to_owned()
    } else {
        dir.to_owned()
    }
}

/// The binary `name` in [`bin_dir`]; panics with the command that builds it when it is missing.
pub fn bin(name: &str) -> PathBuf {
    in_dir(&bin_dir(), name)
}

pub(crate) fn in_dir(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}
