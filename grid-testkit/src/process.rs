//! Processes: signalled by pid (other grids may run on the same machine, so never by name), and
//! read through `/proc`.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::wait::wait_until;

fn signal(pid: i64, sig: Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = kill(Pid::from_raw(pid), sig);
    }
}

/// SIGKILL to one process (the syscall: several kills land within microseconds of each other).
pub fn kill9(pid: u32) {
    signal(i64::from(pid), Signal::SIGKILL);
}

/// SIGTERM to one process.
pub fn term(pid: u32) {
    signal(i64::from(pid), Signal::SIGTERM);
}

/// SIGINT to one process (Ctrl-C).
pub fn interrupt(pid: u32) {
    signal(i64::from(pid), Signal::SIGINT);
}

/// SIGKILL to the process group `pid` leads (a server and what it started).
pub fn kill_group(pid: u32) {
    signal(-i64::from(pid), Signal::SIGKILL);
}

/// Is `pid` running (neither gone nor a zombie)?
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let i = s.rfind(')')?;
            s[i + 1..]
                .split_whitespace()
                .next()
                .map(|st| st != "Z" && st != "X")
        })
        .unwrap_or(false)
}

/// A variable of a process's environment, as `/proc` shows it.
pub fn env_var(pid: u32, key: &str) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|b| *b == 0).find_map(|kv| {
        let kv = std::str::from_utf8(kv).ok()?;
        kv.strip_prefix(key)?.strip_prefix('=').map(str::to_owned)
    })
}

/// Every running process whose environment holds all of `vars` (`KEY=value` each).
pub fn with_env(vars: &[String]) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                let have: Vec<&[u8]> = env.split(|b| *b == 0).collect();
                vars.iter().all(|v| have.contains(&v.as_bytes()))
            })
        })
        .filter(|pid| alive(*pid))
        .collect()
}

/// Every process below `pid` (children, their children, ...), as `/proc` shows them now.
pub fn descendants(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let after = &stat[stat.rfind(')')? + 1..];
            let ppid = after.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// The resident memory of a process, in MB (0 when it is gone).
pub fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A loopback port free at the time of asking, for a peer (icecast, ffmpeg) that cannot take
/// port 0 and say what it bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Waits for `child` to write its bound address to `file`: its content, trimmed. Panics if the
/// child exits first or `timeout` passes.
pub fn addr_file(child: &mut Child, file: &Path, timeout: Duration) -> String {
    wait_until(&format!("{}", file.display()), timeout, || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the process exited before writing {}: {status}",
                file.display()
            );
        }
        std::fs::read_to_string(file)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    })
}

/// A child process, SIGKILLed by pid and reaped when dropped.
#[derive(Debug)]
pub struct Killed(pub Child);

impl Killed {
    /// Starts `cmd` with no stdin and its output discarded; panics naming `what` if it cannot.
    pub fn quiet(cmd: &mut std::process::Command, what: &str) -> Self {
        use std::process::Stdio;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what} does not start: {e}"));
        Self(child)
    }

    /// Its pid.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        kill9(self.0.id());
        let _ = self.0.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_child_is_gone_and_reaped() {
        let child = std::process::Command::new("sleep")
            .arg("1000")
            .env("GRID_TESTKIT_PROBE", std::process::id().to_string())
            .spawn()
            .expect("sleep");
        let pid = child.id();
        assert!(alive(pid));
        let probe = format!("GRID_TESTKIT_PROBE={}", std::process::id());
        let probe = [probe];
        wait_until(
            "the child in /proc with its environment",
            Duration::from_secs(10),
            || (with_env(&probe) == [pid]).then_some(()),
        );
        assert!(rss_mb(pid) > 0.0);
        drop(Killed(child));
        assert!(!alive(pid));
        assert!(with_env(&probe).is_empty());
    }
}
