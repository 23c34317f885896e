//! Secrets at rest on a running grid, tried as a local user without privileges would: `nobody`
//! finds no cluster secret, password hash or readiness token in any file of the grid, and a data
//! folder found readable by others is made private at start, with one warning.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use grid_testkit::Grid;

/// `dir` and every file and folder under it.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_owned()];
    let mut i = 0;
    while i < out.len() {
        if let Ok(entries) = std::fs::read_dir(&out[i]) {
            out.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
        i += 1;
    }
    out
}

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or_default()
}

/// Runs `args` as `nobody`; its stdout.
fn as_nobody(args: &[&str]) -> (bool, String) {
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("runuser runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Every folder of `dir` is 0700 and every file 0600.
fn assert_private(dir: &Path) {
    for p in files(dir) {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&p), want, "{}", p.display());
    }
}

#[test]
fn an_unprivileged_user_finds_no_secret_in_the_grid_and_loose_folders_are_tightened() {
    if !is_root() {
        eprintln!("skipped: running as nobody needs root");
        return;
    }
    let mut grid = Grid::new();
    grid.start_node("node1");
    grid.start_node("node2");
    grid.deploy(&grid_testkit::app::four_servers("media").toml());
    for id in [
        "MediaServer-1",
        "MediaRender-1",
        "MediaServer-2",
        "MediaRender-2",
    ] {
        grid.wait_active(id, None);
    }
    let dir = grid.dir().to_owned();
    // As a grid's folder usually is (a home or /var/lib): others may look in.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    // What an attacker looks for: the cluster secret, the admin's hash, the servers' tokens.
    let secret = std::fs::read_to_string(dir.join("registry_data/cluster.secret"))
        .expect("the cluster secret");
    let mut needles = vec![secret.trim().to_owned(), "$argon2".to_owned()];
    for node in ["node1", "node2"] {
        for run in files(&dir.join(format!("{node}_data/run"))) {
            let Ok(text) = std::fs::read_to_string(&run) else {
                continue;
            };
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                && let Some(token) = v["token"].as_str()
            {
                needles.push(token.to_owned());
            }
        }
    }
    assert!(needles.len() >= 6, "a token per server: {needles:?}");

    // nobody sees the folder, and finds none of them anywhere in it.
    let (listed, names) = as_nobody(&["ls", &dir.display().to_string()]);
    assert!(listed && names.contains("registry_data"), "{names}");
    let mut grep = vec!["grep", "-rlF"];
    for n in &needles {
        grep.extend(["-e", n.as_str()]);
    }
    let dir_arg = dir.display().to_string();
    grep.push(&dir_arg);
    let (_, found) = as_nobody(&grep);
    assert_eq!(found, "", "files nobody can read that hold a secret");
    for data in ["registry_data", "node1_data", "node2_data"] {
        assert_private(&dir.join(data));
    }

    // A data folder made loose while the registry was down is private again after its start.
    let addr = grid.registry_addr().to_owned();
    grid.kill_registry();
    for p in files(&dir.join("registry_data")) {
        let loose = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(loose)).expect("chmod");
    }
    grid.start_registry(&addr);
    assert_private(&dir.join("registry_data"));
    let log = std::fs::read_to_string(dir.join("registry.log")).expect("the registry's log");
    let warnings = log
        .lines()
        .filter(|l| l.contains("could be read by other users"))
        .count();
    assert_eq!(warnings, 1, "{log}");
}
