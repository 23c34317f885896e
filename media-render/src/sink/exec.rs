//! The `exec:CMD` output: a player started with `sh -c CMD`, fed through a pipe by a writer
//! thread of its own, so that playback never waits for it.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{info, warn};

/// Audio queued for an `exec:` player before what follows is skipped for it.
const EXEC_BACKLOG_MS: u64 = 2000;
/// The least queued for an `exec:` player, whatever the bitrate.
const EXEC_BACKLOG_MIN: usize = 16 * 1024;
/// At exit an `exec:` player gets this long to end after its input closes, then it is killed.
const EXEC_GRACE: Duration = Duration::from_secs(1);

/// The `exec:` output: the command, its player while one runs, and whether it failed.
#[derive(Debug)]
pub(super) struct ExecOutput {
    cmd: String,
    pub(super) child: Option<ExecChild>,
    pub(super) failed: bool,
    /// Bytes that may be queued for the child (about two seconds of the track).
    backlog: usize,
}

impl ExecOutput {
    pub(super) fn new(cmd: &str) -> Self {
        Self {
            cmd: cmd.to_owned(),
            child: None,
            failed: false,
            backlog: EXEC_BACKLOG_MIN,
        }
    }

    /// A track of `bytes_per_ms` starts: the output gets another chance, its backlog is sized
    /// for the track, and a player that exited is reaped (it starts again on the first write).
    pub(super) fn track_starts(&mut self, bytes_per_ms: u64) {
        self.failed = false;
        self.backlog = usize::try_from(EXEC_BACKLOG_MS.saturating_mul(bytes_per_ms))
            .unwrap_or(usize::MAX)
            .max(EXEC_BACKLOG_MIN);
        if let Some(c) = self.child.as_mut()
            && let Some(status) = c.exited()
        {
            info!(
                "sink: `{}` exited ({status}); it starts again with the track",
                self.cmd
            );
            if let Some(c) = self.child.take() {
                c.stop(Duration::ZERO);
            }
        }
    }

    /// Hands `bytes` to the player, starting it first if none runs. Never waits: what it is not
    /// ready for is skipped, and a player that stopped reading is let go until the next track.
    pub(super) fn write(&mut self, bytes: Bytes) {
        let Self {
            cmd,
            child,
            failed,
            backlog,
        } = self;
        if *failed {
            return;
        }
        if child.is_none() {
            match ExecChild::spawn(cmd) {
                Ok(c) => {
                    info!("sink: started `{cmd}` (pid {})", c.pid());
                    *child = Some(c);
                }
                Err(e) => {
                    warn!("sink: cannot start `{cmd}`: {e}");
                    *failed = true;
                    return;
                }
            }
        }
        let Some(c) = child.as_mut() else { return };
        if let Some(e) = c.feed.broken() {
            let status = c
                .exited()
                .map_or_else(|| "still running".to_owned(), |s| s.to_string());
            warn!("sink: `{cmd}` stopped reading ({e}; {status}); playing on without it");
            if let Some(c) = child.take() {
                c.stop(Duration::ZERO);
            }
            *failed = true;
            return;
        }
        let queued = c.feed.queued.load(Ordering::Relaxed);
        // Once skipping, it waits until half the backlog is free: one line per streak,
        // not one per release at the edge.
        let limit = if c.skipping.is_some() {
            *backlog / 2
        } else {
            *backlog
        };
        if queued.saturating_add(bytes.len()) > limit {
            match &mut c.skipping {
                Some(skipped) => *skipped += bytes.len() as u64,
                None => {
                    warn!("sink: exec player `{cmd}` is not keeping up; skipping");
                    c.skipping = Some(bytes.len() as u64);
                }
            }
            return;
        }
        if let Some(skipped) = c.skipping.take() {
            info!("sink: `{cmd}` keeps up again ({skipped} bytes skipped)");
        }
        c.feed.queued.fetch_add(bytes.len(), Ordering::Relaxed);
        let sent = c.tx.as_ref().is_some_and(|tx| tx.send(bytes).is_ok());
        if !sent {
            // The writer ended: the next write reads why and lets the child go.
            c.feed.queued.store(0, Ordering::Relaxed);
        }
    }

    /// The render stops: the player's input is closed, it gets a moment to end, and is then
    /// killed; nothing is left running.
    pub(super) fn shutdown(&mut self) {
        if let Some(c) = self.child.take() {
            let pid = c.pid();
            let how = c.stop(EXEC_GRACE);
            info!("sink: `{}` (pid {pid}) stopped: {how}", self.cmd);
        }
    }
}

/// What the writer thread of an `exec:` child shares with the sink.
#[derive(Debug, Default)]
struct Feed {
    /// Bytes handed to the writer and not written yet.
    queued: AtomicUsize,
    /// The sink is closing: the writer drops what is queued and closes the child's input.
    closing: AtomicBool,
    /// Why writing to the child failed (it closed its input), once it did.
    broken: Mutex<Option<String>>,
}

impl Feed {
    fn broken(&self) -> Option<String> {
        self.broken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A running `exec:` player, fed by its own writer thread so that playback never waits for it.
#[derive(Debug)]
pub(super) struct ExecChild {
    child: Child,
    /// To the writer thread; dropped to close the child's input.
    tx: Option<mpsc::Sender<Bytes>>,
    feed: Arc<Feed>,
    writer: Option<std::thread::JoinHandle<()>>,
    /// Bytes skipped in the current streak of not keeping up (`None`: it keeps up).
    skipping: Option<u64>,
}

impl ExecChild {
    fn spawn(cmd: &str) -> std::io::Result<Self> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that whatever `sh -c` starts is stopped with it.
            .process_group(0)
            .spawn()?;
        let Some(stdin) = child.stdin.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other("no stdin pipe"));
        };
        let feed = Arc::new(Feed::default());
        let (tx, rx) = mpsc::channel();
        let writer = {
            let feed = Arc::clone(&feed);
            std::thread::Builder::new()
                .name("exec-sink".into())
                .spawn(move || write_to(stdin, &rx, &feed))
        };
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        Ok(Self {
            child,
            tx: Some(tx),
            feed,
            writer: Some(writer),
            skipping: None,
        })
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, if it has exited (reaped).
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Closes its input, gives it `grace` to end, then kills its process group; reaps it and
    /// joins the writer thread. Returns how it ended, in words.
    fn stop(mut self, grace: Duration) -> String {
        self.feed.closing.store(true, Ordering::Relaxed);
        drop(self.tx.take());
        let deadline = Instant::now() + grace;
        let mut status = self.exited();
        while status.is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            status = self.exited();
        }
        let how = if let Some(status) = status {
            status.to_string()
        } else {
            if let Some(pid) = rustix::process::Pid::from_raw(self.pid() as i32) {
                let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
            "killed".to_owned()
        };
        // With the child gone its input is closed: a write the thread was stuck in fails.
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        how
    }
}

/// The writer thread of an `exec:` child: writes what it is given until the sink closes it or
/// the child stops reading.
fn write_to(mut stdin: ChildStdin, rx: &mpsc::Receiver<Bytes>, feed: &Feed) {
    while let Ok(bytes) = rx.recv() {
        if feed.closing.load(Ordering::Relaxed) {
            break;
        }
        let written = stdin.write_all(&bytes);
        feed.queued.fetch_sub(bytes.len(), Ordering::Relaxed);
        if let Err(e) = written {
            *feed.broken.lock().unwrap_or_else(PoisonError::into_inner) = Some(e.to_string());
            break;
        }
    }
}
