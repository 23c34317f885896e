//! Where played audio goes: the `--sink` output (`null`, `file:PATH`, `exec:CMD`) and the
//! listeners of `GET /listen`.
//!
//! The sink receives the track's original bytes as playback time reaches them, so a `file:` sink
//! is the source file byte for byte and `exec:mpv -` or a `/listen` client plays it in real time.

use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::{broadcast, watch};

mod exec;
mod file;

#[cfg(test)]
use exec::ExecChild;
use exec::ExecOutput;
use file::FileOutput;

/// Releases held for a slow `/listen` client before it skips ahead (about 100 KB of MP3).
const LISTEN_BACKLOG: usize = 256;

/// The `--sink` output.
#[derive(Debug)]
enum Output {
    Null,
    File(FileOutput),
    Exec(ExecOutput),
}

/// What plays, for `/listen` clients that ask for ICY metadata: `icy-name` and `StreamTitle`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NowPlaying {
    /// The channel's name, or the render's id for a track.
    pub name: String,
    /// The channel's current title, or `Artist - Title` of the track.
    pub title: String,
}

/// The sink of a render: one output plus any number of listeners. The listeners are fed
/// without taking the output's lock, so a slow output never holds up `/listen`.
#[derive(Debug)]
pub struct Sink {
    output: Mutex<Output>,
    listeners: broadcast::Sender<Bytes>,
    /// The last [`LISTEN_BURST`] bytes released, sent at once to a new listener so its player
    /// starts now rather than after probing seconds of a live stream. Its lock also orders a
    /// new subscription against `write`, so the burst and the live bytes join exactly.
    recent: Mutex<Recent>,
    now: watch::Sender<NowPlaying>,
}

/// What a new `/listen` client gets at once: about 2 s of 256 kbit/s audio.
const LISTEN_BURST: usize = 64 * 1024;

/// The recent releases, at most [`LISTEN_BURST`] bytes of them.
#[derive(Debug, Default)]
struct Recent {
    pieces: std::collections::VecDeque<Bytes>,
    len: usize,
}

impl Recent {
    fn push(&mut self, bytes: Bytes) {
        self.len += bytes.len();
        self.pieces.push_back(bytes);
        while self.len > LISTEN_BURST {
            match self.pieces.pop_front() {
                Some(old) => self.len -= old.len(),
                None => break,
            }
        }
    }
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
            Output::File(FileOutput::new(path))
        } else if let Some(cmd) = spec.strip_prefix("exec:") {
            if cmd.trim().is_empty() {
                return Err("--sink exec: needs a command (exec:CMD, e.g. 'exec:mpv -')".into());
            }
            Output::Exec(ExecOutput::new(cmd))
        } else {
            return Err(format!(
                "--sink '{spec}' is not one of null, file:PATH, exec:CMD"
            ));
        };
        Ok(Self {
            output: Mutex::new(output),
            listeners: broadcast::Sender::new(LISTEN_BACKLOG),
            recent: Mutex::new(Recent::default()),
            now: watch::Sender::new(NowPlaying::default()),
        })
    }

    fn output(&self) -> MutexGuard<'_, Output> {
        self.output.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new `/listen` client: the last bytes released (its burst), then what is released from
    /// now on.
    pub fn listen(&self) -> (Vec<Bytes>, broadcast::Receiver<Bytes>) {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        (
            recent.pieces.iter().cloned().collect(),
            self.listeners.subscribe(),
        )
    }

    /// Forgets the burst (a new track or channel: a listener should not start on the old one).
    pub fn clear_recent(&self) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        *recent = Recent::default();
    }

    /// What plays now (a channel and its title, or a track).
    pub fn set_now(&self, name: &str, title: &str) {
        self.now.send_if_modified(|now| {
            let changed = now.name != name || now.title != title;
            if changed {
                name.clone_into(&mut now.name);
                title.clone_into(&mut now.title);
            }
            changed
        });
    }

    /// What plays, kept up to date.
    pub fn now(&self) -> watch::Receiver<NowPlaying> {
        self.now.subscribe()
    }

    /// A track (or channel) of `bytes_per_ms` starts: the burst is forgotten, a failed output
    /// gets another chance, and an `exec:`
    /// player that exited is reaped (it is started again on the first write).
    pub fn track_starts(&self, bytes_per_ms: u64) {
        // A listener joining now starts on this track (or channel), not the end of the last.
        self.clear_recent();
        match &mut *self.output() {
            Output::File(f) => f.track_starts(),
            Output::Exec(e) => e.track_starts(bytes_per_ms),
            Output::Null => {}
        }
    }

    /// Writes released bytes to the listeners and the output. A failing output is logged once
    /// and skipped until the next track; playback and the listeners go on. Never waits for an
    /// `exec:` player: what it is not ready for is skipped.
    pub fn write(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let bytes = Bytes::copy_from_slice(bytes);
        {
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            recent.push(bytes.clone());
            if self.listeners.receiver_count() > 0 {
                let _ = self.listeners.send(bytes.clone());
            }
        }
        match &mut *self.output() {
            Output::Null => {}
            Output::File(f) => f.write(&bytes),
            Output::Exec(e) => e.write(bytes),
        }
    }

    /// The render stops: an `exec:` player's input is closed, it gets a moment to end, and is
    /// then killed; nothing is left running.
    pub fn shutdown(&self) {
        if let Output::Exec(e) = &mut *self.output() {
            e.shutdown();
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Polls `probe` every few ms until it holds; panics after `timeout`.
    fn wait_for(what: &str, timeout: Duration, mut probe: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !probe() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn exec_state(sink: &Sink) -> (bool, Option<u32>) {
        match &*sink.output() {
            Output::Exec(e) => (e.failed, e.child.as_ref().map(ExecChild::pid)),
            _ => panic!("not an exec sink"),
        }
    }

    /// A process that is gone (or a zombie no longer running).
    fn gone(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z')),
        }
    }

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
        let sink = Sink::parse(&format!("file:{}", path.display())).unwrap();
        let (burst, mut rx) = sink.listen();
        assert!(burst.is_empty(), "nothing played yet");
        sink.write(b"abc");
        sink.write(b"def");
        assert_eq!(std::fs::read(&path).unwrap(), b"abcdef");
        assert_eq!(&rx.try_recv().unwrap()[..], b"abc");
        assert_eq!(&rx.try_recv().unwrap()[..], b"def");
    }

    #[test]
    fn a_dead_exec_player_is_skipped_without_stopping_playback() {
        let sink = Sink::parse("exec:exit 0").unwrap();
        // Each write returns; once the writer finds the pipe broken the player is let go.
        wait_for(
            "the dead player to be noticed",
            Duration::from_secs(10),
            || {
                sink.write(&[0u8; 4096]);
                exec_state(&sink).0
            },
        );
        assert_eq!(exec_state(&sink), (true, None), "reaped and skipped");
        sink.track_starts(16);
        assert_eq!(exec_state(&sink), (false, None));
    }

    #[test]
    fn an_exec_player_that_exited_is_reaped_when_a_track_starts() {
        let sink = Sink::parse("exec:exec sleep 0").unwrap();
        sink.write(b"x");
        let Some(pid) = exec_state(&sink).1 else {
            panic!("no child")
        };
        // It exits without reading; until reaped it is a zombie of this process.
        wait_for("the player to exit", Duration::from_secs(10), || gone(pid));
        sink.track_starts(16);
        assert_eq!(
            exec_state(&sink),
            (false, None),
            "reaped at the track start"
        );
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[test]
    fn an_exec_player_that_never_reads_never_blocks_the_sink_or_listeners() {
        let sink = Sink::parse("exec:exec sleep 1000").unwrap();
        sink.track_starts(16);
        let (_, mut rx) = sink.listen();
        let piece = [7u8; 4096];
        let started = Instant::now();
        // 4 MB: far beyond the pipe and the 2 s backlog.
        for _ in 0..1024 {
            sink.write(&piece);
            // The listener gets every release, however stuck the player.
            assert_eq!(rx.try_recv().map(|b| b.len()), Ok(piece.len()));
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "writes waited for the player: {:?}",
            started.elapsed()
        );
        let (failed, pid) = exec_state(&sink);
        assert!(!failed);
        let Some(pid) = pid else { panic!("no child") };
        // At exit its input closes, and as it does not end it is killed and reaped.
        sink.shutdown();
        assert_eq!(exec_state(&sink).1, None);
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "the player is left running"
        );
    }

    #[test]
    fn a_new_listener_gets_the_last_bytes_then_the_live_ones() {
        let sink = Sink::parse("null").unwrap();
        for i in 0..100u8 {
            sink.write(&[i; 1024]);
        }
        let (burst, mut rx) = sink.listen();
        let burst: Vec<u8> = burst.concat();
        assert_eq!(burst.len(), LISTEN_BURST);
        assert_eq!(burst[..1024], [36; 1024], "the last 64 KiB, whole releases");
        assert_eq!(burst[burst.len() - 1024..], [99; 1024]);
        sink.write(b"next");
        assert_eq!(&rx.try_recv().unwrap()[..], b"next");
        sink.track_starts(16);
        assert!(sink.listen().0.is_empty(), "a new track forgets the burst");
    }
}
