//! The `file:PATH` output: every released byte appended to a file, opened on the first write.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use tracing::warn;

/// The `file:` output: where, the file once open, and whether writing failed.
#[derive(Debug)]
pub(super) struct FileOutput {
    path: PathBuf,
    file: Option<File>,
    failed: bool,
}

impl FileOutput {
    pub(super) fn new(path: &str) -> Self {
        Self {
            path: PathBuf::from(path),
            file: None,
            failed: false,
        }
    }

    /// A new track gives a failed file another chance.
    pub(super) fn track_starts(&mut self) {
        self.failed = false;
    }

    /// Appends `bytes`; a failure is logged once and the file skipped until the next track.
    pub(super) fn write(&mut self, bytes: &[u8]) {
        let Self { path, file, failed } = self;
        if *failed {
            return;
        }
        if file.is_none() {
            match OpenOptions::new().create(true).append(true).open(&*path) {
                Ok(f) => *file = Some(f),
                Err(e) => {
                    warn!("sink {}: cannot open: {e}", path.display());
                    *failed = true;
                    return;
                }
            }
        }
        if let Some(f) = file
            && let Err(e) = f.write_all(bytes)
        {
            warn!("sink {}: cannot write: {e}", path.display());
            *failed = true;
        }
    }
}
