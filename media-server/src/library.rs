//! The track library on disk.

use std::io;
use std::path::Path;

/// Counts the tracks under `dir`: regular files, in subdirectories too, hidden names skipped.
pub fn count_tracks(dir: &Path) -> io::Result<usize> {
    let mut count = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            count += count_tracks(&entry.path())?;
        } else if kind.is_file() {
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_recursively_and_skips_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.mp3"), b"a").unwrap();
        std::fs::write(dir.path().join(".hidden"), b"h").unwrap();
        std::fs::create_dir(dir.path().join("album")).unwrap();
        std::fs::write(dir.path().join("album/b.mp3"), b"b").unwrap();
        assert_eq!(count_tracks(dir.path()).unwrap(), 2);
    }

    #[test]
    fn a_missing_library_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = count_tracks(&dir.path().join("nope")).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
