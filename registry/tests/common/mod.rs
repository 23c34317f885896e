//! What the registry's test binaries share: the real `gridregistry` on a free port, logins and
//! a node's registration body.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use grid_proto::api::{HostInfo, Load, LoginReply, NodeRegister, ServerRuntime};
use grid_proto::client::Client;
use grid_proto::paths;

/// Two MediaServers in one replica group, one on each node.
pub const APP: &str = r#"
name = "Spotifice"
[replica-groups.MediaServerGroup]
load-balancing = "ordered"
[templates.MS]
parameters = ["index"]
[templates.MS.server]
id = "MediaServer-${index}"
exe = "media-server"
adapters = [{ name = "Adapter", replica-group = "MediaServerGroup" }]
[[nodes.node1.server-instances]]
template = "MS"
parameters = { index = "1" }
[[nodes.node2.server-instances]]
template = "MS"
parameters = { index = "2" }
"#;

/// A registry process, SIGKILLed by pid when dropped.
pub struct Registry {
    pub child: Child,
    pub url: String,
}

impl Registry {
    /// Waits for a spawned registry to write its bound address to `addr_file`.
    pub fn started(child: Child, addr_file: &Path) -> Self {
        let mut reg = Self {
            child,
            url: String::new(),
        };
        wait_until("the address file", Duration::from_secs(20), || {
            if let Ok(Some(status)) = reg.child.try_wait() {
                panic!("gridregistry exited before writing its address: {status}");
            }
            addr_file.exists()
        });
        reg.url = format!(
            "http://{}",
            std::fs::read_to_string(addr_file).unwrap().trim()
        );
        reg
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn start(data: &Path, listen: &str, node_timeout_ms: u64) -> Registry {
    let addr_file = data.with_extension(format!("addr{}", rand_suffix()));
    let child = Command::new(env!("CARGO_BIN_EXE_gridregistry"))
        .args([
            "--listen",
            listen,
            "--heartbeat-ms",
            "100",
            "--node-timeout-ms",
            &node_timeout_ms.to_string(),
        ])
        .arg("--data")
        .arg(data)
        .arg("--addr-file")
        .arg(&addr_file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn gridregistry");
    Registry::started(child, &addr_file)
}

pub fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

pub async fn login(url: &str, password: &str) -> Result<Client, grid_proto::client::ClientError> {
    let anon = Client::new(url, "registry")?;
    let body = serde_json::json!({ "user": "admin", "password": password });
    let reply: LoginReply = anon.post(paths::SESSIONS, &body).await?;
    anon.bearer(&reply.token)
}

pub fn register_body(servers: Vec<ServerRuntime>) -> NodeRegister {
    NodeRegister {
        endpoint: "http://127.0.0.1:9".into(),
        address: "127.0.0.1".into(),
        host: HostInfo {
            hostname: "h".into(),
            os: "Linux".into(),
            kernel: "6".into(),
            arch: "x86_64".into(),
            cpus: 2,
        },
        load: Load::default(),
        servers,
    }
}

pub fn data_dir(tmp: &tempfile::TempDir) -> PathBuf {
    tmp.path().join("registry_data")
}
