//! `gridregistry --config FILE`: the file's keys are the flags, and a flag beats a `GRID_*`
//! variable, which beats the file, which beats the built-in default.

use std::process::{Command, Stdio};

use crate::helper::*;
use grid_proto::api::{NodeRegistered, RegistryInfo};
use grid_proto::client::Client;
use grid_proto::paths;

/// The variables these tests set, cleared first so the caller's environment cannot leak in.
const VARS: &[&str] = &[
    "GRID_REGISTRY_LISTEN",
    "GRID_REGISTRY_DATA",
    "GRID_HEARTBEAT_MS",
    "GRID_NODE_TIMEOUT_MS",
];

/// Where heartbeat-ms is set, and the interval the registry then hands to nodes.
struct Case {
    file: Option<u64>,
    env: Option<u64>,
    flag: Option<u64>,
    expect: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_beats_env_beats_file_beats_default() {
    let cases = [
        Case {
            file: Some(1111),
            env: Some(2222),
            flag: Some(3333),
            expect: 3333,
        },
        Case {
            file: Some(1111),
            env: Some(2222),
            flag: None,
            expect: 2222,
        },
        Case {
            file: Some(1111),
            env: None,
            flag: None,
            expect: 1111,
        },
        Case {
            file: None,
            env: None,
            flag: None,
            expect: 1000,
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("from-file-data");
        let addr_file = tmp.path().join("addr");
        // Nothing can bind a TEST-NET address: the registry only starts if the variable's
        // listen address wins over the file's.
        let mut text = format!(
            "# registry.toml\nlisten = \"192.0.2.1:0\"\ndata = \"{}\"\naddr-file = \"{}\"\n",
            data.display(),
            addr_file.display()
        );
        if let Some(ms) = case.file {
            text.push_str(&format!("heartbeat-ms = {ms}\n"));
        }
        let config = tmp.path().join("registry.toml");
        std::fs::write(&config, text).unwrap();

        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridregistry"));
        cmd.arg("--config").arg(&config);
        for var in VARS {
            cmd.env_remove(var);
        }
        cmd.env("GRID_REGISTRY_LISTEN", "127.0.0.1:0");
        if let Some(ms) = case.env {
            cmd.env("GRID_HEARTBEAT_MS", ms.to_string());
        }
        if let Some(ms) = case.flag {
            cmd.args(["--heartbeat-ms", &ms.to_string()]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let reg = Registry::started(child, &addr_file);

        let info: RegistryInfo = Client::new(&reg.url, "registry")
            .unwrap()
            .get(paths::REGISTRY)
            .await
            .unwrap();
        assert_eq!(info.data_dir, data.display().to_string(), "case {i}");
        assert!(
            info.listen.starts_with("127.0.0.1:"),
            "case {i}: {}",
            info.listen
        );
        let node = as_node(&reg.url, &data);
        let registered: NodeRegistered = register(&node, "n1", vec![]).await;
        assert_eq!(registered.heartbeat_ms, case.expect, "case {i}");
    }
}

#[test]
fn bad_config_files_are_refused_naming_file_line_and_key() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("registry.toml");
    let cases = [
        (
            "data = \"d\"\n\nheartbeat = 10\n",
            ":3: key 'heartbeat': unknown key; the keys of gridregistry are its long flags: \
             listen, data, addr-file, heartbeat-ms, node-timeout-ms, max-body, header-timeout-ms, \
             max-conns-per-peer, tls, verbose",
        ),
        (
            "heartbeat-ms = \"fast\"\n",
            ":1: key 'heartbeat-ms': must be an integer, not a string",
        ),
        (
            "# comment\nlisten = \"localhost:4061\"\n",
            ":2: key 'listen': invalid value 'localhost:4061': invalid socket address syntax",
        ),
        (
            "[registry]\nlisten = \"x\"\n",
            ":1: key 'registry': unknown key; the keys",
        ),
    ];
    for (text, what) in cases {
        std::fs::write(&config, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_gridregistry"))
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected = format!("error: {}{what}", config.display());
        assert!(stderr.starts_with(&expected), "{text}\n{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    let missing = tmp.path().join("missing.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_gridregistry"))
        .arg("--config")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {}: cannot read the config file (--config): No such file or directory \
             (os error 2)\n",
            missing.display()
        )
    );
}
