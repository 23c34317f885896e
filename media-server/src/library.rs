//! The track library: a scan of the library folder into an immutable snapshot of its tracks.
//!
//! A scan walks the folder (hidden names and symbolic links skipped, so nothing outside it can
//! be reached), identifies each `.mp3` by the SHA-256 of its content and reads its tags and
//! stream properties. Files unchanged since the previous snapshot (same inode, size and
//! modification time) are taken over without being read again.

use std::collections::HashMap;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read, Seek};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use grid_proto::ids::TrackId;
use grid_proto::media::TrackInfo;
use lofty::file::{AudioFile, FileType, TaggedFileExt};
use lofty::probe::Probe;
use lofty::tag::Accessor;
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::mpeg;

/// How many folders below the library a scan goes (links are never followed, so this only
/// bounds the recursion on a pathological tree).
pub const MAX_DEPTH: usize = 32;

/// The content type of every track.
pub const MPEG_AUDIO: &str = "audio/mpeg";

/// What identifies one version of a file on disk: if any of it changed, the content may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl FileIdentity {
    fn of(meta: &Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// One track: its public info and, privately, where it is.
#[derive(Debug)]
pub struct Track {
    /// What clients see.
    pub info: TrackInfo,
    /// Absolute path; never leaves the process.
    path: PathBuf,
    identity: FileIdentity,
    /// Whether its file was found gone or changed (logged once per snapshot of the track).
    stale: AtomicBool,
}

/// Why a track's file cannot be opened.
#[derive(Debug)]
pub enum OpenError {
    /// The file is gone, or is no longer the file that was scanned: the snapshot is stale, and
    /// the track does not exist until a rescan finds it again (under its new id if changed).
    Stale(String),
    /// Opening or inspecting the file failed (too many open files, permissions, I/O error...):
    /// the server's failure, not the track's absence.
    Io(io::Error),
}

impl OpenError {
    /// Whether the process or the system ran out of file descriptors (EMFILE, ENFILE): a
    /// passing overload, worth a retry elsewhere or later.
    pub fn is_out_of_files(&self) -> bool {
        matches!(self, Self::Io(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)))
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stale(why) => f.write_str(why),
            Self::Io(e) => write!(f, "{e}"),
        }
    }
}

impl Track {
    /// Opens the track's file for reading, checking it is still the very file that was scanned
    /// (not a symbolic link, not replaced or rewritten since), so an id always serves the
    /// content it was computed from. A stale track is logged once, with the advice to rescan.
    pub fn open(&self) -> Result<File, OpenError> {
        let stale = |why: &str| {
            if !self.stale.swap(true, Ordering::Relaxed) {
                warn!(
                    "track {} ({}) {why} since the library was scanned: it is a 404 until a \
                     rescan (SIGHUP or POST /v1/library/rescan)",
                    self.info.id, self.info.file
                );
            }
            OpenError::Stale(format!("its file {why} since the library was scanned"))
        };
        let file = match open_no_follow(&self.path) {
            Ok(file) => file,
            // Gone, a folder on the way gone, or a symbolic link put in its place.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::ENOTDIR | libc::ELOOP)
                ) =>
            {
                return Err(stale("is gone"));
            }
            Err(e) => return Err(OpenError::Io(e)),
        };
        let meta = file.metadata().map_err(OpenError::Io)?;
        if FileIdentity::of(&meta) != self.identity {
            return Err(stale("changed"));
        }
        Ok(file)
    }
}

/// An immutable snapshot of the library.
#[derive(Debug, Default)]
pub struct Library {
    /// Sorted by artist, album, title.
    tracks: Vec<Arc<Track>>,
    by_id: HashMap<String, Arc<Track>>,
}

impl Library {
    /// The tracks, sorted by artist, album, title.
    pub fn tracks(&self) -> &[Arc<Track>] {
        &self.tracks
    }

    /// How many tracks.
    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    /// The track with this id; `None` for anything that is not a track id, which is never
    /// looked up, so no request can name a path.
    pub fn get(&self, id: &str) -> Option<&Arc<Track>> {
        let id = TrackId::try_from(id).ok()?;
        self.by_id.get(id.as_str())
    }
}

/// The current snapshot, swapped whole by a rescan; whoever holds a snapshot (a stream, a
/// playlist) keeps the tracks (and open files) it got.
#[derive(Debug, Default)]
pub struct Current(RwLock<Arc<Library>>);

impl Current {
    /// The snapshot now.
    pub fn get(&self) -> Arc<Library> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Swaps in a new snapshot.
    pub fn replace(&self, library: Library) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(library);
    }
}

/// The outcome of a scan.
#[derive(Debug)]
pub struct Scan {
    /// The new snapshot.
    pub library: Library,
    /// Tracks read for the first time (or again, having changed).
    pub read: usize,
    /// Tracks taken over unchanged from the previous snapshot.
    pub kept: usize,
    /// `.mp3` files skipped: unreadable or not MPEG audio.
    pub failed: usize,
    /// Files with the same content as an earlier one.
    pub duplicates: usize,
}

/// Scans `dir`, reusing the tracks of `previous` whose files have not changed. Only an
/// unreadable `dir` fails; a bad file or subfolder is logged and skipped.
pub fn scan(dir: &Path, previous: &Library) -> io::Result<Scan> {
    let root = std::fs::canonicalize(dir)?;
    let mut files = Vec::new();
    walk(&root, &mut files, 0)?;

    let known: HashMap<&Path, &Arc<Track>> = previous
        .tracks
        .iter()
        .map(|t| (t.path.as_path(), t))
        .collect();
    let mut scan = Scan {
        library: Library::default(),
        read: 0,
        kept: 0,
        failed: 0,
        duplicates: 0,
    };
    for (path, meta) in files {
        let identity = FileIdentity::of(&meta);
        let track = match known.get(path.as_path()) {
            Some(track) if track.identity == identity => {
                scan.kept += 1;
                Arc::clone(track)
            }
            _ => match read_guarded(|| read_track(&root, &path)) {
                Ok(track) => {
                    scan.read += 1;
                    Arc::new(track)
                }
                Err(e) => {
                    warn!("skipping {}: {e}", path.display());
                    scan.failed += 1;
                    continue;
                }
            },
        };
        if let Some(first) = scan.library.by_id.get(&track.info.id) {
            info!(
                "{} has the same content as {} (track {}); serving the latter",
                track.info.file, first.info.file, first.info.id
            );
            scan.duplicates += 1;
            continue;
        }
        scan.library
            .by_id
            .insert(track.info.id.clone(), Arc::clone(&track));
        scan.library.tracks.push(track);
    }
    scan.library.tracks.sort_by(|a, b| {
        let key = |t: &Track| {
            (
                t.info.artist.to_lowercase(),
                t.info.album.to_lowercase(),
                t.info.title.to_lowercase(),
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.info.id.cmp(&b.info.id))
    });
    Ok(scan)
}

/// Collects the `.mp3` files under `dir` in name order, at most [`MAX_DEPTH`] folders down.
/// Only the root's own failure is an error: a subfolder that cannot be read, or is too deep,
/// is logged and skipped.
fn walk(dir: &Path, out: &mut Vec<(PathBuf, Metadata)>, depth: usize) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir).and_then(Iterator::collect::<io::Result<Vec<_>>>) {
        Ok(entries) => entries,
        Err(e) if depth > 0 => {
            warn!("skipping folder {}: {e}", dir.display());
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let mut entries = entries;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        if name.as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        // `symlink_metadata` describes the entry itself: a link is neither a file nor a
        // folder here, so it is never followed.
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) => {
                warn!("skipping {}: {e}", path.display());
                continue;
            }
        };
        if meta.is_dir() {
            if depth >= MAX_DEPTH {
                warn!(
                    "skipping folder {}: more than {MAX_DEPTH} folders below the library",
                    path.display()
                );
                continue;
            }
            walk(&path, out, depth + 1)?;
        } else if meta.is_file()
            && path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("mp3"))
        {
            out.push((path, meta));
        }
    }
    Ok(())
}

fn open_no_follow(path: &Path) -> io::Result<File> {
    // O_NONBLOCK too: opening a FIFO swapped in for a track must not hang the server.
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

thread_local! {
    /// Set while [`read_guarded`] runs: the panic hook then keeps the panic's message and
    /// location here instead of printing them, for the one warning line of the skipped file.
    static CAUGHT_PANIC: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `read` (a parser over a file's bytes), turning a panic into an error: a malformed file
/// that trips a bug in a tag or audio parser is skipped like any unreadable file, it does not
/// fail the scan.
fn read_guarded(read: impl FnOnce() -> Result<Track, String>) -> Result<Track, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.get() {
                CAUGHT_PANIC.set(Some(info.to_string()));
            } else {
                default(info);
            }
        }));
    });
    GUARDED.set(true);
    // The parser's state dies with the panic; only owned, freshly opened data is involved.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    GUARDED.set(false);
    result.unwrap_or_else(|_| {
        let why = CAUGHT_PANIC
            .take()
            .unwrap_or_else(|| "no message".to_owned());
        Err(format!("its parser panicked ({})", why.replace('\n', " ")))
    })
}

/// Reads one file: its id from its content, its tags and stream properties.
fn read_track(root: &Path, path: &Path) -> Result<Track, String> {
    let file = open_no_follow(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    let identity = FileIdentity::of(&meta);
    let id = content_id(&file).map_err(|e| format!("reading it: {e}"))?;
    let vbr = mpeg::is_vbr(&file).map_err(|e| format!("reading it: {e}"))?;

    let mut reader = io::BufReader::new(&file);
    reader.rewind().map_err(|e| e.to_string())?;
    let tagged = Probe::with_file_type(reader, FileType::Mpeg)
        .read()
        .map_err(|e| format!("not MPEG audio: {e}"))?;
    let properties = tagged.properties();
    let duration_ms = u64::try_from(properties.duration().as_millis()).unwrap_or(u64::MAX);
    if duration_ms == 0 {
        return Err("no MPEG audio frames found".into());
    }

    let file_name = path
        .strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned();
    let stem = path
        .file_stem()
        .map_or_else(|| file_name.clone(), |s| s.to_string_lossy().into_owned());
    let tag = tagged.primary_tag().or_else(|| tagged.first_tag());
    let text = |get: fn(&lofty::tag::Tag) -> Option<std::borrow::Cow<'_, str>>| {
        tag.and_then(get)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let (title, artist, album) = (
        text(|t| t.title()),
        text(|t| t.artist()),
        text(|t| t.album()),
    );
    let missing: Vec<&str> = [("title", &title), ("artist", &artist), ("album", &album)]
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| *name)
        .collect();
    if !missing.is_empty() {
        info!(
            "{file_name} has no {} tag; using defaults",
            missing.join(", no ")
        );
    }
    Ok(Track {
        info: TrackInfo {
            id,
            title: title.unwrap_or(stem),
            artist: artist.unwrap_or_else(|| "Unknown Artist".into()),
            album: album.unwrap_or_else(|| "Unknown Album".into()),
            duration_ms,
            bitrate_kbps: properties.audio_bitrate().unwrap_or(0),
            vbr,
            size: identity.size,
            content_type: MPEG_AUDIO.into(),
            file: file_name,
        },
        path: path.to_path_buf(),
        identity,
        stale: AtomicBool::new(false),
    })
}

/// The first 16 hex digits of the SHA-256 of the file's content.
fn content_id(mut file: &File) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut id = hex::encode(hasher.finalize());
    id.truncate(16);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_audio_are_skipped_and_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("noise.mp3"), b"not audio").unwrap();
        std::fs::write(dir.path().join(".hidden.mp3"), b"h").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"t").unwrap();
        std::fs::write(outside.path().join("secret.mp3"), b"secret").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.mp3"), dir.path().join("l.mp3"))
            .unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked-folder")).unwrap();
        let scan = scan(dir.path(), &Library::default()).unwrap();
        assert!(scan.library.is_empty());
        assert_eq!(scan.failed, 1);
    }

    /// A track of `path` as it is now, without reading it as audio.
    fn track_of(path: &Path) -> Track {
        let identity = FileIdentity::of(&std::fs::metadata(path).unwrap());
        Track {
            info: TrackInfo {
                id: "0123456789abcdef".into(),
                title: "t".into(),
                artist: "a".into(),
                album: "b".into(),
                duration_ms: 1,
                bitrate_kbps: 128,
                vbr: false,
                size: identity.size,
                content_type: MPEG_AUDIO.into(),
                file: "t.mp3".into(),
            },
            path: path.to_path_buf(),
            identity,
            stale: AtomicBool::new(false),
        }
    }

    #[test]
    fn gone_or_changed_files_are_stale_and_other_failures_are_not() {
        use crate::error::ApiError;
        use axum::http::StatusCode;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.mp3");
        std::fs::write(&path, b"abc").unwrap();
        let track = track_of(&path);
        assert!(track.open().is_ok());

        // Rewritten: another size.
        std::fs::write(&path, b"abcd").unwrap();
        let err = track.open().unwrap_err();
        assert!(matches!(err, OpenError::Stale(_)), "{err}");
        assert_eq!(
            ApiError::cannot_open(&track, &err).status(),
            StatusCode::NOT_FOUND
        );
        // Replaced by a link, then gone.
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &path).unwrap();
        assert!(matches!(track.open(), Err(OpenError::Stale(_))));
        std::fs::remove_file(&path).unwrap();
        let err = track.open().unwrap_err();
        assert!(matches!(err, OpenError::Stale(_)), "{err}");
        assert!(err.to_string().contains("gone"), "{err}");

        // Failures of the server itself: 503 when out of descriptors, 500 otherwise, naming
        // the track and the error.
        for (errno, status) in [
            (libc::EMFILE, StatusCode::SERVICE_UNAVAILABLE),
            (libc::ENFILE, StatusCode::SERVICE_UNAVAILABLE),
            (libc::EACCES, StatusCode::INTERNAL_SERVER_ERROR),
            (libc::EIO, StatusCode::INTERNAL_SERVER_ERROR),
        ] {
            let err = OpenError::Io(io::Error::from_raw_os_error(errno));
            let api = ApiError::cannot_open(&track, &err);
            assert_eq!(api.status(), status, "errno {errno}");
            let message = api.to_string();
            assert!(
                message.contains("0123456789abcdef") && message.contains("t.mp3"),
                "{message}"
            );
            assert!(
                message.contains(&io::Error::from_raw_os_error(errno).to_string()),
                "{message}"
            );
        }
    }

    #[test]
    fn a_parser_panic_skips_the_file() {
        let err = read_guarded(|| panic!("bad frame {}", 7)).unwrap_err();
        assert!(
            err.contains("panicked") && err.contains("bad frame 7"),
            "{err}"
        );
        // Panics elsewhere are untouched by the hook.
        assert!(!GUARDED.get());
        let elsewhere = std::panic::catch_unwind(|| panic!("elsewhere"));
        assert!(elsewhere.is_err());
        assert!(CAUGHT_PANIC.take().is_none());
    }

    #[test]
    fn folders_too_deep_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut deep = dir.path().to_path_buf();
        for level in 0..=MAX_DEPTH + 1 {
            deep.push(format!("d{level}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("x.mp3"), b"x").unwrap();
        std::fs::write(dir.path().join("d0/y.mp3"), b"y").unwrap();
        let mut files = Vec::new();
        walk(dir.path(), &mut files, 0).unwrap();
        let names: Vec<_> = files.iter().map(|(p, _)| p.file_name().unwrap()).collect();
        assert_eq!(names, ["y.mp3"]);
    }

    #[test]
    fn a_missing_library_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = scan(&dir.path().join("nope"), &Library::default()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }
}
