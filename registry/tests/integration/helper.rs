//! What the registry's tests share: the real `gridregistry` on a free port, logins and a node's
//! registration body.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use grid_testkit::Killed;
use grid_testkit::process::addr_file as addr_file_of;
pub use grid_testkit::wait_for;

use grid_proto::api::{
    ApplicationChanged, DescriptorSource, HostInfo, Load, LocateReply, LoginReply, NodeRegister,
    NodeRegistered, ServerRuntime,
};
use grid_proto::client::Client;
use grid_proto::paths;

pub use grid_testkit::app::TWO_MEDIA_SERVERS as APP;

/// A registry process, SIGKILLed by pid when dropped.
pub struct Registry {
    _child: Killed,
    pub url: String,
}

impl Registry {
    /// Waits for a spawned registry to write its bound address to `addr_file`.
    pub fn started(mut child: Child, addr_file: &Path) -> Self {
        let addr = addr_file_of(&mut child, addr_file, Duration::from_secs(20));
        Self {
            _child: Killed(child),
            url: format!("http://{addr}"),
        }
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

/// A registry over a fresh data folder on a free port: the folder's owner, the data folder and
/// the registry.
pub fn fresh(node_timeout_ms: u64) -> (tempfile::TempDir, PathBuf, Registry) {
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let data = data_dir(&tmp);
    let reg = start(&data, "127.0.0.1:0", node_timeout_ms);
    (tmp, data, reg)
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

/// Adds the application `source`.
pub async fn add(admin: &Client, source: &str) -> ApplicationChanged {
    let body = DescriptorSource {
        source: source.into(),
    };
    admin
        .post(paths::APPLICATIONS, &body)
        .await
        .expect("the application is added")
}

/// The endpoints `locate` answers for `id`, in order.
pub async fn located(client: &Client, id: &str) -> Vec<String> {
    let reply: LocateReply = client
        .get(&paths::fill(paths::LOCATE, &[id]))
        .await
        .expect("locate answers");
    reply.endpoints.into_iter().map(|e| e.endpoint).collect()
}

/// A client of the node routes, with the cluster secret the registry wrote in `data`.
pub fn as_node(url: &str, data: &Path) -> Client {
    let secret = std::fs::read_to_string(data.join("cluster.secret")).expect("the cluster secret");
    Client::new(url, "registry")
        .and_then(|c| c.secret(&secret))
        .expect("a node client")
}

/// Registers node `name` running `servers`.
pub async fn register(node: &Client, name: &str, servers: Vec<ServerRuntime>) -> NodeRegistered {
    let path = paths::fill(paths::NODE_REGISTER, &[name]);
    node.post(&path, &register_body(servers))
        .await
        .expect("the node registers")
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
