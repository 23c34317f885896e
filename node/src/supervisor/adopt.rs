//! Pid files, so a node restarted after `kill -9` adopts the servers that outlived it instead of
//! starting them twice.
//!
//! A pid is only trusted together with the process start time (`/proc/<pid>/stat` field 22): a pid
//! reused by an unrelated process has another start time.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use grid_proto::api::ServerState;
use grid_proto::descriptor::ServerDescriptor;
use serde::{Deserialize, Serialize};
use tokio::io::unix::AsyncFd;

/// What the node records about a running server in `<data>/run/<server-id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PidFile {
    /// Group leader pid.
    pub pid: u32,
    /// Its start time in clock ticks since boot.
    pub start_time: u64,
    /// The descriptor it was started with.
    pub descriptor: ServerDescriptor,
    /// Adapter id → endpoint, once ready.
    #[serde(default)]
    pub endpoints: BTreeMap<String, String>,
    /// Its state when last written.
    pub state: ServerState,
    /// The readiness token of this spawn.
    pub token: String,
    /// When it started (ms since the epoch).
    pub started_ms: u64,
    /// Automatic restarts so far.
    #[serde(default)]
    pub restart_count: u32,
}

/// The path of a server's pid file.
pub fn pid_file_path(run_dir: &Path, id: &str) -> PathBuf {
    run_dir.join(format!("{id}.json"))
}

/// Writes a file atomically (temp file + rename, see [`grid_proto::write_atomic`]), creating
/// its directory first.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    grid_proto::write_atomic(path, bytes)
}

/// Saves a pid file.
pub fn save(run_dir: &Path, pf: &PidFile) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(pf).map_err(io::Error::other)?;
    write_atomic(&pid_file_path(run_dir, &pf.descriptor.id), &bytes)
}

/// Removes a pid file (a missing one is fine).
pub fn remove(run_dir: &Path, id: &str) {
    match std::fs::remove_file(pid_file_path(run_dir, id)) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(server = %id, "cannot remove pid file: {e}"),
    }
}

/// Field 22 (`starttime`) of a `/proc/<pid>/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from the last `)`.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // After ')' come fields 3, 4, ...: field 22 is the 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The start time of a live process, `None` when there is no such process.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// Is the process of this pid file still the one it describes (alive, and not a zombie)?
fn is_alive(pf: &PidFile) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{}/stat", pf.pid)) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    parse_start_time(&stat) == Some(pf.start_time) && !matches!(state, Some("Z" | "X"))
}

/// Reads every pid file: the live ones are returned, stale ones removed.
pub fn load_live(run_dir: &Path) -> Vec<PidFile> {
    let Ok(dir) = std::fs::read_dir(run_dir) else {
        return Vec::new();
    };
    let mut live = Vec::new();
    for entry in dir.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            // Leftover temp files of an interrupted write.
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let parsed = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<PidFile>(&b).ok());
        match parsed {
            Some(pf) if is_alive(&pf) => live.push(pf),
            _ => {
                tracing::debug!(file = %path.display(), "removing stale pid file");
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    live
}

/// Completes when an adopted process (not our child, so no `wait`) has exited.
///
/// A pidfd becomes readable when the process exits; kernels without pidfd get a slow poll.
pub async fn wait_exit(pid: u32, start: u64) {
    let fd = rustix::process::Pid::from_raw(pid as i32)
        .and_then(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::NONBLOCK).ok());
    // `AsyncFd::register` is the non-deprecated spelling but is `unsafe`, which the workspace
    // forbids; an `OwnedFd` moved into the `AsyncFd` meets its contract, so `new` is sound here.
    #[allow(deprecated)]
    let afd = fd.and_then(|fd| AsyncFd::new(fd).ok());
    if let Some(afd) = afd {
        // Readable means exited; an error would mean the fd is unusable, so fall back below.
        if afd.readable().await.is_ok() {
            return;
        }
    }
    while start_time(pid) == Some(start) && !is_zombie(pid) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let i = s.rfind(')')?;
            Some(matches!(
                s[i + 1..].split_whitespace().next(),
                Some("Z" | "X")
            ))
        })
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_survives_odd_command_names() {
        let line = "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50";
        assert_eq!(parse_start_time(line), Some(987_654));
        assert_eq!(parse_start_time("1 (x) S 1 2"), None);
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn own_start_time_is_readable_and_stable() {
        let me = std::process::id();
        let a = start_time(me).unwrap();
        assert_eq!(start_time(me), Some(a));
        assert_eq!(start_time(u32::MAX / 2), None);
    }

    #[test]
    fn stale_pid_files_are_removed_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let desc: ServerDescriptor = serde_json::from_value(serde_json::json!({
            "id": "S", "application": "A", "node": "n", "exe": "x", "args": [], "env": {},
            "activation": "always", "activation_timeout_ms": 1, "deactivation_timeout_ms": 1,
            "adapters": []
        }))
        .unwrap();
        let me = std::process::id();
        let live = PidFile {
            pid: me,
            start_time: start_time(me).unwrap(),
            descriptor: desc.clone(),
            endpoints: BTreeMap::new(),
            state: ServerState::Active,
            token: "t".into(),
            started_ms: 1,
            restart_count: 0,
        };
        save(dir.path(), &live).unwrap();
        let stale = PidFile {
            start_time: live.start_time + 1,
            descriptor: ServerDescriptor {
                id: "T".into(),
                ..desc
            },
            ..live.clone()
        };
        save(dir.path(), &stale).unwrap();
        std::fs::write(dir.path().join("U.json.tmp"), b"{").unwrap();
        assert_eq!(load_live(dir.path()), vec![live]);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1);
    }
}
