//! What the node's end-to-end tests share: a tiny in-process registry, `sh -c` servers, the real
//! `gridnode` in a temporary directory, and waits with a deadline.
//!
//! Every process a test creates is found by a per-test node name in its environment and killed
//! by pid when the test ends.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};
use grid_proto::api::{
    AssignedServer, Assignment, HeartbeatReply, NodeRegistered, NodeStatus, ServerRuntime,
    ServerState,
};
use grid_proto::client::Client;
use grid_proto::descriptor::{Activation, ServerDescriptor};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const SECRET: &str = "test-secret";
pub const DEADLINE: Duration = Duration::from_secs(20);

/// What the fake registry saw.
#[derive(Default)]
pub struct Seen {
    pub assignment: Assignment,
    pub registers: u32,
    pub bad_secret: u32,
    pub pushes: Vec<ServerRuntime>,
}

pub type Shared = Arc<Mutex<Seen>>;

pub fn authorised(seen: &Shared, headers: &HeaderMap) {
    if headers.get("x-grid-secret").and_then(|v| v.to_str().ok()) != Some(SECRET) {
        seen.lock().unwrap().bad_secret += 1;
    }
}

/// Starts a registry that hands out `assignment` and records state pushes.
pub async fn fake_registry(assignment: Assignment) -> (String, Shared) {
    let seen: Shared = Arc::new(Mutex::new(Seen {
        assignment,
        ..Default::default()
    }));
    let app = Router::new()
        .route(
            "/v1/nodes/{name}/register",
            post(
                |State(s): State<Shared>, UrlPath(_n): UrlPath<String>, h: HeaderMap| async move {
                    authorised(&s, &h);
                    let mut seen = s.lock().unwrap();
                    seen.registers += 1;
                    Json(NodeRegistered {
                        assignment: seen.assignment.clone(),
                        heartbeat_ms: 200,
                    })
                },
            ),
        )
        .route(
            "/v1/nodes/{name}/heartbeat",
            post(|State(s): State<Shared>, h: HeaderMap| async move {
                authorised(&s, &h);
                Json(HeartbeatReply { assignment: None })
            }),
        )
        .route(
            "/v1/nodes/{name}/server-state",
            post(
                |State(s): State<Shared>, h: HeaderMap, Json(rt): Json<ServerRuntime>| async move {
                    authorised(&s, &h);
                    s.lock().unwrap().pushes.push(rt);
                    Json(serde_json::json!({}))
                },
            ),
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

/// A fake registry assigning `servers` (serial 1), and test `tag`'s environment against it.
pub async fn assigned(tag: &str, servers: Vec<AssignedServer>) -> (Env, Shared) {
    let (url, seen) = fake_registry(Assignment { serial: 1, servers }).await;
    (Env::new(tag, url), seen)
}

/// Waits for `id` to be active on `node`; its runtime.
pub async fn wait_active(node: &Client, id: &str) -> ServerRuntime {
    wait_for(&format!("{id} active"), async || active(node, id).await).await
}

/// A `/bin/sh -c` server without adapters.
pub fn sh(id: &str, script: &str, deactivation_ms: u64) -> AssignedServer {
    AssignedServer {
        descriptor: ServerDescriptor {
            id: id.into(),
            application: "Test".into(),
            node: "n".into(),
            exe: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: BTreeMap::new(),
            pwd: None,
            activation: Activation::Always,
            activation_timeout_ms: 10_000,
            deactivation_timeout_ms: deactivation_ms,
            log: None,
            adapters: vec![],
        },
        enabled: true,
        stopped: false,
    }
}

/// Pids of every process whose environment names this test's node: servers and grandchildren.
pub fn procs_of(node: &str, server: Option<&str>) -> Vec<u32> {
    let mut vars = vec![format!("GRID_NODE_NAME={node}")];
    vars.extend(server.map(|s| format!("GRID_SERVER_ID={s}")));
    grid_testkit::process::with_env(&vars)
}

pub use grid_testkit::kill9 as sigkill;
pub use grid_testkit::{alive, process::env_var};

/// A test's directory, node name and node processes; kills everything it started on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub name: String,
    pub registry: String,
    pub node: Option<Child>,
}

impl Env {
    pub fn new(tag: &str, registry: String) -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            name: format!("{tag}-{}", std::process::id()),
            registry,
            node: None,
        }
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Starts `gridnode` and returns a client for its API once it has written its address.
    pub async fn start_node(&mut self) -> Client {
        self.start_node_with(&[]).await
    }

    /// Starts `gridnode` with `extra` flags after the usual ones.
    pub async fn start_node_with(&mut self, extra: &[&OsStr]) -> Client {
        let addr_file = self.dir.path().join("addr");
        let _ = std::fs::remove_file(&addr_file);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("node.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_gridnode"))
            .arg("--name")
            .arg(&self.name)
            .arg("--registry")
            .arg(&self.registry)
            .arg("--data")
            .arg(self.dir.path().join("data"))
            .arg("--work-dir")
            .arg(self.work())
            .arg("--addr-file")
            .arg(&addr_file)
            .args(["--secret", SECRET, "--backoff-base-ms", "200"])
            .args(["--backoff-max-ms", "2000", "--backoff-reset-ms", "5000"])
            .args(extra)
            .env_remove("GRID_CLUSTER_SECRET")
            .env_remove("GRID_NODE_ON_STOP")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.node = Some(child);
        let addr = wait_for("the node's address file", async || {
            std::fs::read_to_string(&addr_file)
                .ok()
                .filter(|s| !s.is_empty())
        })
        .await;
        Client::new(&format!("http://{addr}"), "node")
            .unwrap()
            .secret(SECRET)
            .unwrap()
    }

    pub fn kill_node(&mut self) {
        if let Some(mut c) = self.node.take() {
            sigkill(c.id());
            let _ = c.wait();
        }
    }

    /// Sends the node SIGTERM and waits for it to exit.
    pub async fn terminate_node(&mut self) -> ExitStatus {
        let mut child = self.node.take().expect("the node is running");
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        wait_for("the node to exit after SIGTERM", async || {
            child.try_wait().ok().flatten()
        })
        .await
    }

    pub fn node_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.kill_node();
        for pid in procs_of(&self.name, None) {
            sigkill(pid);
        }
    }
}

/// Polls `check` until it yields a value, for at most [`DEADLINE`].
pub async fn wait_for<T>(what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    grid_testkit::wait_for(what, DEADLINE, check).await
}

pub async fn runtime(node: &Client, id: &str) -> Option<ServerRuntime> {
    let status: NodeStatus = node.get("/v1/status").await.ok()?;
    status.servers.into_iter().find(|s| s.id == id)
}

pub async fn active(node: &Client, id: &str) -> Option<ServerRuntime> {
    runtime(node, id)
        .await
        .filter(|r| r.state == ServerState::Active && r.pid.is_some())
}
