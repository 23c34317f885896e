//! The grid's own files (the registry's database and cluster secret, a node's run files, cache
//! and server logs) are the grid user's alone: folders 0700, files 0600. A data folder found
//! with looser modes is tightened, and the caller says so once.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The mode of a private folder.
pub const DIR_MODE: u32 = 0o700;
/// The mode of a private file.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and its parents) if it is missing, then makes it and everything in it
/// private. Returns the paths that were readable by others, for one warning.
pub fn dir(dir: &Path) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut loosened = Vec::new();
    tighten(dir, &mut loosened)?;
    Ok(loosened)
}

fn tighten(path: &Path, loosened: &mut Vec<PathBuf>) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    // A link is not followed: what it points at is not ours to change.
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let want = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & want))?;
        loosened.push(path.to_owned());
    }
    if meta.is_dir() {
        for entry in fs::read_dir(path)? {
            tighten(&entry?.path(), loosened)?;
        }
    }
    Ok(())
}

/// A line for the log naming what was tightened: the first few paths and how many in all.
pub fn report(loosened: &[PathBuf]) -> String {
    let shown: Vec<String> = loosened
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    let more = loosened.len().saturating_sub(shown.len());
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "{}{more} could be read by other users: now {DIR_MODE:o} for folders and {FILE_MODE:o} for files",
        shown.join(", ")
    )
}

/// Opens `path` for appending, created private if it is missing (a server's log).
pub fn append(path: &Path) -> io::Result<fs::File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Writes `contents` to `path` through a private temporary file and a rename, so a reader
/// never sees half of it and no other user sees any of it.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(&tmp)?;
    // A temporary file left by an older version may have been created looser.
    f.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    f.write_all(contents)?;
    drop(f);
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_loose_folder_and_its_files_are_made_private_and_named() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        fs::create_dir_all(data.join("run")).unwrap();
        fs::write(data.join("db"), b"secret").unwrap();
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(data.join("run"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(data.join("db"), fs::Permissions::from_mode(0o644)).unwrap();
        let loosened = dir(&data).unwrap();
        assert_eq!(loosened.len(), 3);
        assert_eq!(
            (mode(&data), mode(&data.join("run")), mode(&data.join("db"))),
            (0o700, 0o700, 0o600)
        );
        assert!(report(&loosened).ends_with("now 700 for folders and 600 for files"));
        // Private already: nothing to say.
        assert!(dir(&data).unwrap().is_empty());
    }

    #[test]
    fn atomic_writes_and_appends_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("secret");
        write_atomic(&file, b"x").unwrap();
        assert_eq!(mode(&file), 0o600);
        let log = tmp.path().join("a.log");
        append(&log).unwrap();
        assert_eq!(mode(&log), 0o600);
    }
}
