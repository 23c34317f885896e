//! Spawning a server: executable lookup, environment, working directory, log files.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use grid_proto::descriptor::ServerDescriptor;
use grid_proto::server_env::{self, ServerEnv};
use tokio::process::{Child, Command};

use super::logs;

/// Variables a server inherits from the node; everything else is explicit.
const INHERITED: &[&str] = &["PATH", "HOME", "LANG", "RUST_LOG", "TZ"];

/// What every spawn needs to know about the node.
#[derive(Debug, Clone)]
pub struct SpawnContext {
    /// Node name.
    pub node_name: String,
    /// Node API URL.
    pub node_url: String,
    /// Address servers bind and advertise.
    pub address: String,
    /// Registry URL.
    pub registry_url: String,
    /// The grid's service key (from the cluster secret), for the servers' tokens.
    pub service_key: String,
    /// The grid CA's certificate file, when the grid speaks TLS (the node's own API does).
    pub ca_file: Option<PathBuf>,
    /// Node working directory.
    pub work_dir: PathBuf,
    /// Directory of the node's own executable, searched first for bare names.
    pub exe_dir: Option<PathBuf>,
    /// Rotate logs past this size before spawning.
    pub log_max_bytes: u64,
    /// Rotated files kept.
    pub log_keep: u32,
}

/// A freshly spawned server.
#[derive(Debug)]
pub struct Spawned {
    /// The child, to be awaited by its watch task.
    pub child: Child,
    /// Its pid (also its process group id).
    pub pid: u32,
    /// Its readiness token.
    pub token: String,
    /// Its log files, for the rotation task.
    pub logs: (PathBuf, PathBuf),
}

/// Finds the executable: a path with '/' as given (relative to the work dir), a bare name beside
/// the node's executable (so sibling release binaries are found), then in `PATH`.
pub fn resolve_exe(
    exe: &str,
    work_dir: &Path,
    exe_dir: Option<&Path>,
    path_var: Option<&OsString>,
) -> Result<PathBuf, String> {
    if exe.contains('/') {
        let p = Path::new(exe);
        return Ok(if p.is_absolute() {
            p.to_path_buf()
        } else {
            work_dir.join(p)
        });
    }
    let dirs = exe_dir
        .map(Path::to_path_buf)
        .into_iter()
        .chain(path_var.into_iter().flat_map(std::env::split_paths));
    for dir in dirs {
        let candidate = dir.join(exe);
        if is_executable(&candidate) {
            return Ok(candidate);
        }
    }
    Err(format!("'{exe}' not found beside the node or in PATH"))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A fresh random token for one spawn.
pub fn new_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Spawns `desc` in its own process group with its log files as stdout and stderr.
///
/// The logs are files, not pipes: a node that dies does not take its servers down with SIGPIPE,
/// and a restarted node can adopt them.
pub fn spawn(ctx: &SpawnContext, desc: &ServerDescriptor) -> Result<Spawned, String> {
    let path_var = std::env::var_os("PATH");
    let program = resolve_exe(
        &desc.exe,
        &ctx.work_dir,
        ctx.exe_dir.as_deref(),
        path_var.as_ref(),
    )?;
    let cwd = match &desc.pwd {
        Some(p) if Path::new(p).is_absolute() => PathBuf::from(p),
        Some(p) => ctx.work_dir.join(p),
        None => ctx.work_dir.clone(),
    };
    let (out_path, err_path) = logs::log_paths(&ctx.work_dir, desc);
    for p in [&out_path, &err_path] {
        if let Err(e) = logs::rotate_if_needed(p, ctx.log_max_bytes, ctx.log_keep) {
            tracing::warn!(server = %desc.id, file = %p.display(), "cannot rotate log: {e}");
        }
    }
    let open = |p: &Path| {
        logs::open_append(p).map_err(|e| format!("cannot open log file {}: {e}", p.display()))
    };
    let stdout = open(&out_path)?;
    let stderr = open(&err_path)?;
    let token = new_token();
    let adapters = ServerEnv::encode_adapters(
        desc.adapters
            .iter()
            .map(|a| (a.name.as_str(), a.id.as_str())),
    );

    let mut cmd = Command::new(&program);
    cmd.args(&desc.args)
        .current_dir(&cwd)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .env_clear();
    for key in INHERITED {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd.envs(&desc.env)
        .env(server_env::SERVER_ID, &desc.id)
        .env(server_env::APPLICATION, &desc.application)
        .env(server_env::NODE_NAME, &ctx.node_name)
        .env(server_env::NODE_URL, &ctx.node_url)
        .env(server_env::HOST, &ctx.address)
        .env(server_env::ADAPTERS, adapters)
        .env(server_env::READY_TOKEN, &token)
        .env(server_env::REGISTRY_URL, &ctx.registry_url)
        .env(server_env::SERVICE_KEY, &ctx.service_key);
    if let Some(ca) = &ctx.ca_file {
        cmd.env(grid_proto::tls::CA_FILE_ENV, ca);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    let pid = child
        .id()
        .ok_or_else(|| "the process exited before its pid was known".to_owned())?;
    Ok(Spawned {
        child,
        pid,
        token,
        logs: (out_path, err_path),
    })
}

/// How a process ended, in words (`exit status 1`, `killed by SIGKILL`).
pub fn describe_exit(status: &ExitStatus) -> String {
    if let Some(code) = status.code() {
        format!("exit status {code}")
    } else if let Some(sig) = status.signal() {
        match nix::sys::signal::Signal::try_from(sig) {
            Ok(s) => format!("killed by {}", s.as_str()),
            Err(_) => format!("killed by signal {sig}"),
        }
    } else {
        status.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_with_slash_are_taken_as_given() {
        let w = Path::new("/work");
        assert_eq!(
            resolve_exe("/bin/sh", w, None, None).unwrap(),
            Path::new("/bin/sh")
        );
        assert_eq!(
            resolve_exe("./x/run", w, None, None).unwrap(),
            Path::new("/work/./x/run")
        );
    }

    #[test]
    fn bare_names_beside_the_node_first_then_path() {
        let beside = tempfile::tempdir().unwrap();
        let on_path = tempfile::tempdir().unwrap();
        let make = |dir: &Path, name: &str, mode: u32| {
            let p = dir.join(name);
            std::fs::write(&p, b"#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let a = make(beside.path(), "tool", 0o755);
        let b = make(on_path.path(), "tool", 0o755);
        make(beside.path(), "plain", 0o644);
        let c = make(on_path.path(), "plain", 0o755);
        let path = std::env::join_paths([on_path.path()]).unwrap();
        let w = Path::new("/");
        assert_eq!(
            resolve_exe("tool", w, Some(beside.path()), Some(&path)).unwrap(),
            a
        );
        assert_eq!(resolve_exe("tool", w, None, Some(&path)).unwrap(), b);
        // Not executable beside the node: skipped.
        assert_eq!(
            resolve_exe("plain", w, Some(beside.path()), Some(&path)).unwrap(),
            c
        );
        let err = resolve_exe("nope", w, Some(beside.path()), Some(&path)).unwrap_err();
        assert!(err.contains("not found"), "{err}");
    }

    #[test]
    fn exit_descriptions() {
        assert_eq!(
            describe_exit(&ExitStatus::from_raw(1 << 8)),
            "exit status 1"
        );
        assert_eq!(describe_exit(&ExitStatus::from_raw(9)), "killed by SIGKILL");
        assert_eq!(new_token().len(), 32);
    }
}
