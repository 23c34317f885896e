//! Where played audio goes: the `--sink` output (`null`, `file:PATH`, `exec:CMD`) and the
//! listeners of `GET /listen`.
//!
//! The sink receives the track's original bytes as playback time reaches them, so a `file:` sink
//! is the source file byte for byte and `exec:mpv -` or a `/listen` client plays it in real time.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use bytes::Bytes;
use tokio::sync::broadcast;
use tracing::{info, warn};

/// Releases held for a slow `/listen` client before it skips ahead (about 100 KB of MP3).
const LISTEN_BACKLOG: usize = 256;

/// The `--sink` output.
#[derive(Debug)]
enum Output {
    Null,
    File {
        path: PathBuf,
        file: Option<File>,
        failed: bool,
    },
    Exec {
        cmd: String,
        child: Option<(Child, ChildStdin)>,
        failed: bool,
    },
}

/// The sink of a render: one output plus any number of listeners.
#[derive(Debug)]
pub struct Sink {
    output: Output,
    listeners: broadcast::Sender<Bytes>,
}

impl Sink {
    /// Parses `--sink`: `null`, `file:PATH` or `exec:CMD`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let output = if spec == "null" {
            Output::Null
        } else if let Some(path) = spec.strip_prefix("file:") {
            if path.is_empty() {
                return Err("--sink file: needs a path (file:PATH)".into());
            }
            Output::File {
                path: PathBuf::from(path),
                file: None,
                failed: false,
            }
        } else if let Some(cmd) = spec.strip_prefix("exec:") {
            if cmd.trim().is_empty() {
                return Err("--sink exec: needs a command (exec:CMD, e.g. 'exec:mpv -')".into());
            }
            Output::Exec {
                cmd: cmd.to_owned(),
                child: None,
                failed: false,
            }
        } else {
            return Err(format!(
                "--sink '{spec}' is not one of null, file:PATH, exec:CMD"
            ));
        };
        Ok(Self {
            output,
            listeners: broadcast::Sender::new(LISTEN_BACKLOG),
        })
    }

    /// A new `/listen` client: it gets what is released from now on.
    pub fn listen(&self) -> broadcast::Receiver<Bytes> {
        self.listeners.subscribe()
    }

    /// A track starts: an `exec:` player that died gets another chance.
    pub fn track_starts(&mut self) {
        match &mut self.output {
            Output::Exec { failed, .. } | Output::File { failed, .. } => *failed = false,
            Output::Null => {}
        }
    }

    /// Writes released bytes to the output and the listeners. A failing output is logged once
    /// and skipped until the next track; playback and the listeners go on.
    pub fn write(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if self.listeners.receiver_count() > 0 {
            let _ = self.listeners.send(Bytes::copy_from_slice(bytes));
        }
        match &mut self.output {
            Output::Null => {}
            Output::File { path, file, failed } => {
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
            Output::Exec { cmd, child, failed } => {
                if *failed {
                    return;
                }
                if child.is_none() {
                    match spawn(cmd) {
                        Ok(c) => {
                            info!("sink: started `{cmd}` (pid {})", c.0.id());
                            *child = Some(c);
                        }
                        Err(e) => {
                            warn!("sink: cannot start `{cmd}`: {e}");
                            *failed = true;
                            return;
                        }
                    }
                }
                if let Some((proc_, stdin)) = child
                    && let Err(e) = stdin.write_all(bytes)
                {
                    let status = proc_
                        .try_wait()
                        .ok()
                        .flatten()
                        .map_or_else(|| "still running".to_owned(), |s| s.to_string());
                    warn!("sink: `{cmd}` stopped reading ({e}; {status}); playing on without it");
                    if let Some((mut proc_, stdin)) = child.take() {
                        drop(stdin);
                        // Reap it so no zombie is left; it already closed its input.
                        let _ = proc_.kill();
                        let _ = proc_.wait();
                    }
                    *failed = true;
                }
            }
        }
    }
}

fn spawn(cmd: &str) -> std::io::Result<(Child, ChildStdin)> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin pipe"))?;
    Ok((child, stdin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_or_say_what_is_wrong() {
        assert!(Sink::parse("null").is_ok());
        assert!(Sink::parse("file:/tmp/x").is_ok());
        assert!(Sink::parse("exec:cat >/dev/null").is_ok());
        for bad in ["", "file:", "exec: ", "speaker"] {
            let err = Sink::parse(bad).unwrap_err();
            assert!(err.contains("--sink"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_file_sink_appends_and_listeners_get_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let mut sink = Sink::parse(&format!("file:{}", path.display())).unwrap();
        let mut rx = sink.listen();
        sink.write(b"abc");
        sink.write(b"def");
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
        assert_eq!(&rx.try_recv().unwrap()[..], b"abc");
        assert_eq!(&rx.try_recv().unwrap()[..], b"def");
    }

    #[test]
    fn a_dead_exec_player_is_skipped_without_stopping_playback() {
        let mut sink = Sink::parse("exec:exit 0").unwrap();
        // Writes until the pipe breaks; each write must return.
        for _ in 0..64 {
            sink.write(&[0u8; 65536]);
        }
        assert!(matches!(sink.output, Output::Exec { failed: true, .. }));
        sink.track_starts();
        assert!(matches!(sink.output, Output::Exec { failed: false, .. }));
    }
}
