//! Server log files: where they are, opening them for a child, size-based rotation, reading back.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use grid_proto::api::LogReply;
use grid_proto::descriptor::ServerDescriptor;
use tokio_util::sync::CancellationToken;

/// The most a log request returns.
pub const MAX_READ: u64 = 1024 * 1024;

/// How often the rotation task looks at the files.
const ROTATE_EVERY: Duration = Duration::from_secs(5);

/// The stdout and stderr files of a server: `<log>` and `<log with .stderr before .log>`.
pub fn log_paths(work_dir: &Path, desc: &ServerDescriptor) -> (PathBuf, PathBuf) {
    let name = desc
        .log
        .clone()
        .unwrap_or_else(|| format!("{}.log", desc.id));
    let stderr = match name.strip_suffix(".log") {
        Some(stem) => format!("{stem}.stderr.log"),
        None => format!("{name}.stderr"),
    };
    (work_dir.join(name), work_dir.join(stderr))
}

/// Opens a log for appending, creating it (and its directory); a new log is the grid user's
/// alone.
pub fn open_append(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    grid_proto::private::append(path)
}

/// Copy-truncate rotation: the child keeps its O_APPEND descriptor, so the file is copied to `.1`
/// (older copies shifted up to `.keep`) and then truncated in place.
pub fn rotate_if_needed(path: &Path, max_bytes: u64, keep: u32) -> io::Result<bool> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if len <= max_bytes {
        return Ok(false);
    }
    if keep > 0 {
        let numbered = |n: u32| {
            let mut s = path.as_os_str().to_owned();
            s.push(format!(".{n}"));
            PathBuf::from(s)
        };
        for n in (1..keep).rev() {
            let from = numbered(n);
            if from.exists() {
                std::fs::rename(&from, numbered(n + 1))?;
            }
        }
        std::fs::copy(path, numbered(1))?;
    }
    OpenOptions::new().write(true).open(path)?.set_len(0)?;
    Ok(true)
}

/// The set of log files in use, checked periodically by one task.
#[derive(Debug, Clone, Default)]
pub struct Rotator {
    files: Arc<Mutex<BTreeSet<PathBuf>>>,
}

impl Rotator {
    /// Adds a file to the periodic check.
    pub fn watch(&self, path: PathBuf) {
        if let Ok(mut files) = self.files.lock() {
            files.insert(path);
        }
    }

    /// Checks every watched file every few seconds until `cancel`.
    pub async fn run(self, max_bytes: u64, keep: u32, cancel: CancellationToken) {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(ROTATE_EVERY) => {}
            }
            let files: Vec<PathBuf> = match self.files.lock() {
                Ok(f) => f.iter().cloned().collect(),
                Err(_) => return,
            };
            let done = tokio::task::spawn_blocking(move || {
                for f in files {
                    match rotate_if_needed(&f, max_bytes, keep) {
                        Ok(true) => tracing::info!(file = %f.display(), "log rotated"),
                        Ok(false) => {}
                        Err(e) => tracing::warn!(file = %f.display(), "cannot rotate log: {e}"),
                    }
                }
            })
            .await;
            if done.is_err() {
                return;
            }
        }
    }
}

/// Reads a log for the API: from `offset` on, or the last `tail` lines, or the end of the file;
/// never more than [`MAX_READ`] bytes.
pub fn read_log(path: &Path, tail: Option<usize>, offset: Option<u64>) -> io::Result<LogReply> {
    let reply = |size, text| LogReply {
        path: path.display().to_string(),
        size,
        text,
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(reply(0, String::new())),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    let start = match offset {
        // A rotated (truncated) file starts again from 0.
        Some(o) if o <= size => o,
        Some(_) => 0,
        None => size.saturating_sub(MAX_READ),
    };
    file.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    file.take(MAX_READ).read_to_end(&mut buf)?;
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if let (Some(n), None) = (tail, offset) {
        text = last_lines(&text, n).to_owned();
    }
    Ok(reply(size, text))
}

/// The last `n` lines of `text` (a trailing newline does not count as an empty line).
fn last_lines(text: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut seen = 0;
    for (i, b) in body.bytes().enumerate().rev() {
        if b == b'\n' {
            seen += 1;
            if seen == n {
                return &text[i + 1..];
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(log: Option<&str>) -> ServerDescriptor {
        ServerDescriptor {
            id: "S1".into(),
            application: "A".into(),
            node: "n".into(),
            exe: "/bin/true".into(),
            args: vec![],
            env: Default::default(),
            pwd: None,
            activation: Default::default(),
            activation_timeout_ms: 1000,
            deactivation_timeout_ms: 1000,
            log: log.map(str::to_owned),
            adapters: vec![],
        }
    }

    #[test]
    fn stderr_name_inserts_before_dot_log() {
        let w = Path::new("/w");
        let (o, e) = log_paths(w, &desc(Some("mediaserver1.log")));
        assert_eq!(o, Path::new("/w/mediaserver1.log"));
        assert_eq!(e, Path::new("/w/mediaserver1.stderr.log"));
        let (o, e) = log_paths(w, &desc(None));
        assert_eq!(
            (o.as_path(), e.as_path()),
            (Path::new("/w/S1.log"), Path::new("/w/S1.stderr.log"))
        );
        let (_, e) = log_paths(w, &desc(Some("out.txt")));
        assert_eq!(e, Path::new("/w/out.txt.stderr"));
    }

    #[test]
    fn rotation_shifts_and_truncates() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.log");
        let mut f = open_append(&p).unwrap();
        for round in 0..4u8 {
            use std::io::Write;
            f.write_all(&[b'a' + round; 20]).unwrap();
            assert!(rotate_if_needed(&p, 10, 2).unwrap());
            assert_eq!(std::fs::metadata(&p).unwrap().len(), 0);
        }
        // Keep 2: .1 is the newest copy, .2 the one before, nothing older survives.
        assert_eq!(
            std::fs::read(dir.path().join("s.log.1")).unwrap(),
            [b'd'; 20]
        );
        assert_eq!(
            std::fs::read(dir.path().join("s.log.2")).unwrap(),
            [b'c'; 20]
        );
        assert!(!dir.path().join("s.log.3").exists());
        // The O_APPEND writer continues at the new end, not at its old offset.
        use std::io::Write;
        f.write_all(b"xy").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"xy");
        assert!(!rotate_if_needed(&p, 10, 2).unwrap());
        assert!(!rotate_if_needed(&dir.path().join("none"), 10, 2).unwrap());
    }

    #[test]
    fn read_tail_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.log");
        std::fs::write(&p, "one\ntwo\nthree\n").unwrap();
        let r = read_log(&p, Some(2), None).unwrap();
        assert_eq!((r.size, r.text.as_str()), (14, "two\nthree\n"));
        assert_eq!(
            read_log(&p, Some(9), None).unwrap().text,
            "one\ntwo\nthree\n"
        );
        assert_eq!(read_log(&p, None, Some(8)).unwrap().text, "three\n");
        assert_eq!(
            read_log(&p, None, Some(99)).unwrap().text,
            "one\ntwo\nthree\n"
        );
        assert_eq!(read_log(&p, None, None).unwrap().text, "one\ntwo\nthree\n");
        let missing = read_log(&dir.path().join("nope"), Some(1), None).unwrap();
        assert_eq!((missing.size, missing.text.as_str()), (0, ""));
        assert_eq!(last_lines("a\nb", 1), "b");
    }
}
