//! `scripts/install.sh` into a temporary prefix with the workspace's built binaries: the files,
//! their modes and contents, `systemd-analyze verify` on the units, the installed configs run
//! by the real daemons, and `--uninstall` leaving only data (and a config edited since).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use grid_proto::api::{LoginReply, NodeView};
use grid_proto::client::Client;
use grid_proto::paths;
use grid_testkit::process::addr_file;
use grid_testkit::{Killed, wait_for};

const BINARIES: &[&str] = &[
    "gridregistry",
    "gridnode",
    "gridadmin",
    "media-server",
    "media-render",
    "media-control",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The workspace's binaries, beside this crate's own.
fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_gridnode")).parent().unwrap();
    for name in BINARIES {
        assert!(
            dir.join(name).is_file(),
            "{} is missing: build every binary first (cargo build --workspace --bins)",
            dir.join(name).display()
        );
    }
    dir.to_path_buf()
}

/// Runs install.sh with `args`, with a `systemctl` on PATH that records being called.
fn install_sh(args: &[&str], fake_bin: &Path) -> Output {
    let path = format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap());
    Command::new(repo().join("scripts/install.sh"))
        .args(args)
        .env("PATH", path)
        .output()
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A template as install.sh writes it for `prefix`.
fn rendered(template: &str, prefix: &Path) -> String {
    let p = prefix.display();
    std::fs::read_to_string(repo().join(template))
        .unwrap()
        .replace("/usr/local/bin", &format!("{p}/bin"))
        .replace("/etc/spotifice-grid", &format!("{p}/etc/spotifice-grid"))
        .replace(
            "/var/lib/spotifice-grid",
            &format!("{p}/var/lib/spotifice-grid"),
        )
}

/// The long flags `--help` lists, but --config, --help and --version.
fn flags(binary: &Path) -> Vec<String> {
    let out = Command::new(binary).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let mut flags: Vec<String> = help
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("--"))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|w| !w.is_empty() && !["config", "help", "version"].contains(w))
        .map(str::to_owned)
        .collect();
    flags.sort();
    flags.dedup();
    flags
}

/// Every path under `root`, relative to it.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                todo.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn install_sh_arguments_are_checked() {
    let fake = tempfile::tempdir().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--bogus"],
            "install.sh: unknown argument '--bogus' (see --help)\n",
        ),
        (
            &["--prefix"],
            "install.sh: --prefix needs a directory (see --help)\n",
        ),
        (
            &["--uninstall", "--bin-dir", "x"],
            "install.sh: --bin-dir has no use with --uninstall (see --help)\n",
        ),
    ];
    for (args, stderr) in cases {
        let out = install_sh(args, fake.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), *stderr);
    }
    let spaced = fake.path().join("a b");
    let out = install_sh(&["--prefix", spaced.to_str().unwrap()], fake.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only letters, digits and"));
    let out = install_sh(&["--help"], fake.path());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("Usage: scripts/install.sh"));
    let empty = tempfile::tempdir().unwrap();
    let out = install_sh(
        &["--uninstall", "--prefix", empty.path().to_str().unwrap()],
        fake.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no install recorded in"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_verify_run_and_uninstall_into_a_prefix() {
    let bins = bin_dir();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("root");
    let fake = tmp.path().join("fake-bin");
    std::fs::create_dir(&fake).unwrap();
    let called = tmp.path().join("systemctl-called");
    std::fs::write(
        fake.join("systemctl"),
        format!("#!/bin/sh\necho \"$@\" >> {}\n", called.display()),
    )
    .unwrap();
    std::fs::set_permissions(fake.join("systemctl"), PermissionsExt::from_mode(0o755)).unwrap();

    let p = prefix.to_str().unwrap();
    let out = install_sh(&["--prefix", p, "--bin-dir", bins.to_str().unwrap()], &fake);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in BINARIES {
        let installed = prefix.join("bin").join(name);
        assert_eq!(mode(&installed), 0o755, "{name}");
        let same = Command::new("cmp")
            .arg("-s")
            .arg(bins.join(name))
            .arg(&installed)
            .status()
            .unwrap();
        assert!(
            same.success(),
            "{name} differs from {}",
            bins.join(name).display()
        );
    }
    let etc = prefix.join("etc/spotifice-grid");
    let data = prefix.join("var/lib/spotifice-grid");
    let units = prefix.join("lib/systemd/system");
    for (file, daemon) in [("registry.toml", "gridregistry"), ("node.toml", "gridnode")] {
        let text = std::fs::read_to_string(etc.join(file)).unwrap();
        assert_eq!(text, rendered(&format!("config/{file}"), &prefix));
        assert_eq!(mode(&etc.join(file)), 0o640);
        // Every flag is in the file as a key, most commented out with their default.
        for flag in flags(&prefix.join("bin").join(daemon)) {
            let key = format!("{flag} = ");
            assert!(
                text.lines()
                    .any(|l| l.starts_with(&key) || l.starts_with(&format!("# {key}"))),
                "{file} lacks the key {flag}"
            );
        }
    }
    for unit in ["gridregistry.service", "gridnode@.service"] {
        let text = std::fs::read_to_string(units.join(unit)).unwrap();
        assert_eq!(text, rendered(&format!("config/systemd/{unit}"), &prefix));
        assert_eq!(mode(&units.join(unit)), 0o644);
        for line in [
            "Type=simple",
            "Restart=on-failure",
            "User=spotifice",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
        ] {
            assert!(text.lines().any(|l| l == line), "{unit} lacks {line}");
        }
    }
    let node_unit = std::fs::read_to_string(units.join("gridnode@.service")).unwrap();
    let d = data.display();
    assert!(node_unit.lines().any(|l| l == "KillMode=process"));
    assert!(
        node_unit
            .lines()
            .any(|l| l == format!("ReadWritePaths={d}/nodes"))
    );
    assert!(node_unit.lines().any(|l| l
        == format!(
            "ExecStart={p}/bin/gridnode --config {}/node.toml --name %i --data {d}/nodes/%i \
             --work-dir {d}/nodes/%i/work",
            etc.display()
        )));
    let registry_unit = std::fs::read_to_string(units.join("gridregistry.service")).unwrap();
    assert!(registry_unit.lines().any(|l| l
        == format!(
            "ExecStart={p}/bin/gridregistry --config {}/registry.toml",
            etc.display()
        )));
    assert!(
        registry_unit
            .lines()
            .any(|l| l == format!("ReadWritePaths={d}/registry"))
    );
    for dir in [&data, &data.join("registry"), &data.join("nodes")] {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }

    // systemd checks the units, ExecStart paths included (the template through an instance).
    let analyze = Path::new("/usr/bin/systemd-analyze");
    if analyze.exists() {
        for unit in ["gridregistry.service", "gridnode@node1.service"] {
            let out = Command::new(analyze)
                .arg("verify")
                .arg(units.join(unit))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{unit}: {stderr}");
            let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("grid")).collect();
            assert!(ours.is_empty(), "{unit}: {ours:?}");
        }
    } else {
        eprintln!("systemd-analyze not found: the units were not verified");
    }

    // The installed files run as the units run them: the node reads the registry's secret.
    let registry_addr = tmp.path().join("registry.addr");
    let mut registry = Killed(
        Command::new(prefix.join("bin/gridregistry"))
            .arg("--config")
            .arg(etc.join("registry.toml"))
            .args(["--listen", "127.0.0.1:0", "--addr-file"])
            .arg(&registry_addr)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!(
        "http://{}",
        addr_file(&mut registry.0, &registry_addr, Duration::from_secs(20))
    );
    assert_eq!(mode(&data.join("registry/cluster.secret")), 0o600);
    let node_addr = tmp.path().join("node.addr");
    let name = format!("installed-{}", std::process::id());
    let mut node = Killed(
        Command::new(prefix.join("bin/gridnode"))
            .arg("--config")
            .arg(etc.join("node.toml"))
            .args(["--name", &name, "--registry", &url, "--addr-file"])
            .arg(&node_addr)
            .arg("--data")
            .arg(data.join("nodes").join(&name))
            .arg("--work-dir")
            .arg(data.join("nodes").join(&name).join("work"))
            .env_remove("GRID_CLUSTER_SECRET")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    addr_file(&mut node.0, &node_addr, Duration::from_secs(20));
    let anon = Client::new(&url, "registry").unwrap();
    let login = serde_json::json!({ "user": "admin", "password": "admin" });
    let reply: LoginReply = anon.post(paths::SESSIONS, &login).await.unwrap();
    let admin = anon.bearer(&reply.token).unwrap();
    wait_for(
        &format!("{name} registered"),
        Duration::from_secs(20),
        async || {
            let nodes: Vec<NodeView> = admin.get(paths::NODES).await.unwrap();
            nodes.iter().any(|n| n.name == name).then_some(())
        },
    )
    .await;
    drop(node);
    drop(registry);

    // Installing again keeps the configs as they are.
    let node_toml = etc.join("node.toml");
    let edited = format!(
        "{}registry = \"http://10.0.0.1:4061\"\n",
        rendered("config/node.toml", &prefix)
    );
    std::fs::write(&node_toml, &edited).unwrap();
    let out = install_sh(&["--prefix", p, "--bin-dir", bins.to_str().unwrap()], &fake);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("kept the existing {}", node_toml.display())));
    assert_eq!(std::fs::read_to_string(&node_toml).unwrap(), edited);

    let out = install_sh(&["--uninstall", "--prefix", p], &fake);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!(
        "kept {} (edited since it was installed)",
        node_toml.display()
    )));
    assert!(stdout.contains(&format!("kept {} (data)", data.display())));
    let left: Vec<String> = tree(&prefix)
        .into_iter()
        .filter(|f| !f.starts_with("var/lib/spotifice-grid/"))
        .collect();
    let expected = [
        "etc",
        "etc/spotifice-grid",
        "etc/spotifice-grid/node.toml",
        "var",
        "var/lib",
        "var/lib/spotifice-grid",
    ];
    assert_eq!(left, expected);
    assert!(data.join("registry/cluster.secret").is_file());
    assert!(data.join("nodes").join(&name).join("run").is_dir());
    assert!(!called.exists(), "install.sh ran systemctl for a prefix");
}
