//! A fake node that records readiness reports, and a handle on a spawned server process:
//! the harness of the servers' own tests, without a registry or a real node.

use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long anything may take before a test gives up.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// One `POST /v1/servers/{id}/ready` the fake node received.
#[derive(Debug)]
pub struct Report {
    /// The `{id}` of the path.
    pub server: String,
    /// The body.
    pub body: serde_json::Value,
}

/// An in-process stand-in for a node's API, answering readiness reports with `status`.
pub struct FakeNode {
    /// Its base URL.
    pub url: String,
    reports: mpsc::UnboundedReceiver<Report>,
}

impl FakeNode {
    pub async fn start(status: StatusCode) -> Self {
        let (tx, reports) = mpsc::unbounded_channel();
        let router = Router::new().route(
            "/v1/servers/{id}/ready",
            post(
                move |Path(server): Path<String>, Json(body): Json<serde_json::Value>| async move {
                    let _ = tx.send(Report { server, body });
                    let reply = if status.is_success() {
                        serde_json::json!({})
                    } else {
                        serde_json::json!({ "error": "wrong readiness token" })
                    };
                    (status, Json(reply))
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { url, reports }
    }

    /// The next report, or a panic after the deadline.
    pub async fn next_report(&mut self) -> Report {
        tokio::time::timeout(DEADLINE, self.reports.recv())
            .await
            .expect("no readiness report before the deadline")
            .expect("the fake node stopped")
    }
}

/// The server environment a node would set, for server `id` reporting to `node_url`.
pub fn grid_env(id: &str, node_url: &str) -> Vec<(&'static str, String)> {
    use grid_proto::server_env as env;
    vec![
        (env::SERVER_ID, id.to_owned()),
        (env::APPLICATION, "Spotifice".to_owned()),
        (env::NODE_NAME, "node1".to_owned()),
        (env::NODE_URL, node_url.to_owned()),
        (env::HOST, "127.0.0.1".to_owned()),
        (env::ADAPTERS, "Adapter=".to_owned() + id + ".Adapter"),
        (env::READY_TOKEN, format!("token-of-{id}")),
    ]
}

/// A spawned server whose stdout is collected.
pub struct Process {
    child: Child,
    stdout: JoinHandle<String>,
}

impl Process {
    /// Runs `exe` with `args` and `env` (and no other `GRID_*` or `RUST_LOG`) in `dir`.
    pub fn spawn(
        exe: &str,
        args: &[&str],
        env: &[(&'static str, String)],
        dir: &std::path::Path,
    ) -> Self {
        use grid_proto::server_env as e;
        let mut cmd = Command::new(exe);
        cmd.args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for var in [
            e::SERVER_ID,
            e::APPLICATION,
            e::NODE_NAME,
            e::NODE_URL,
            e::HOST,
            e::ADAPTERS,
            e::READY_TOKEN,
            e::REGISTRY_URL,
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {exe}: {e}"));
        let mut out = child.stdout.take().unwrap();
        let stdout = tokio::spawn(async move {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text).await;
            text
        });
        Self { child, stdout }
    }

    /// Sends `signal` to the process, by pid.
    pub fn signal(&self, signal: Signal) {
        let pid = self
            .child
            .id()
            .expect("the process has already been reaped");
        kill(Pid::from_raw(pid as i32), signal).unwrap();
    }

    /// Waits (with the deadline) for the process to exit; its status and everything it printed.
    pub async fn exit(mut self) -> (ExitStatus, String) {
        let status = tokio::time::timeout(DEADLINE, self.child.wait())
            .await
            .expect("the process did not exit before the deadline")
            .unwrap();
        let stdout = tokio::time::timeout(DEADLINE, self.stdout)
            .await
            .expect("stdout was not closed")
            .unwrap();
        (status, stdout)
    }
}

/// Polls `check` until it gives a value, or panics after the deadline.
pub async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `GET url` as JSON.
pub async fn get_json(url: &str) -> serde_json::Value {
    let response = reqwest::get(url).await.unwrap();
    assert!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    response.json().await.unwrap()
}
