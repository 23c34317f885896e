//! The fake registry-and-node a render talks to (locate answers from a list the test sets;
//! events are collected), and the render started as a node would start it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use grid_proto::api::{LocateReply, LocatedEndpoint};
use grid_proto::media::ServerEvent;

/// Starts `media-render` as the fake node at `fake_url` would (server id, node URL, ready token),
/// on a free loopback port, with `args`, its stdout in `log`; waits until it listens. Its child
/// and its URL.
pub fn spawn_render(
    dir: &Path,
    fake_url: &str,
    args: &[String],
    log: &Path,
    timeout: Duration,
) -> (std::process::Child, String) {
    let addr_file = dir.join("render.addr");
    let log = std::fs::File::create(log).expect("log");
    let child = std::process::Command::new(grid_testkit::bin("media-render"))
        .args(["--registry", fake_url, "--listen", "127.0.0.1:0"])
        .arg("--addr-file")
        .arg(&addr_file)
        .args(args)
        .env("GRID_SERVER_ID", "MediaRender-1")
        .env("GRID_NODE_URL", fake_url)
        .env("GRID_READY_TOKEN", "spawn-token")
        .env_remove("GRID_ADAPTERS")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("media-render");
    let addr = grid_testkit::wait_until("the render listening", timeout, || {
        std::fs::read_to_string(&addr_file)
            .ok()
            .filter(|a| !a.is_empty())
    });
    (child, format!("http://{addr}"))
}

/// `METHOD url` with an optional JSON body: the status and the JSON answer (null if none).
pub async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = http.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("the render answers");
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

/// `GET {render_url}/listen` as a player asking for ICY metadata: the response, and a decoder
/// for its body at the `icy-metaint` it announced.
pub async fn listen_icy(
    http: &reqwest::Client,
    render_url: &str,
) -> (reqwest::Response, grid_proto::icy::Decoder) {
    let resp = http
        .get(format!("{render_url}/listen"))
        .header("Icy-MetaData", "1")
        .send()
        .await
        .expect("GET /listen");
    let metaint: std::num::NonZeroUsize = resp.headers()["icy-metaint"]
        .to_str()
        .expect("icy-metaint is text")
        .parse()
        .expect("icy-metaint");
    (resp, grid_proto::icy::Decoder::body(Some(metaint)))
}

/// The fake registry and node, serving on a free loopback port.
#[derive(Default)]
pub struct FakeGrid {
    located: Mutex<Vec<LocatedEndpoint>>,
    events: Mutex<Vec<serde_json::Value>>,
}

impl FakeGrid {
    /// Starts it on `rt`; it and its URL (the render's `--registry` and `GRID_NODE_URL`).
    pub fn start(rt: &tokio::runtime::Runtime) -> (Arc<Self>, String) {
        let fake = Arc::new(Self::default());
        let app = Router::new()
            .route("/v1/locate/{id}", get(locate))
            .route("/v1/servers/{id}/event", post(event))
            .with_state(Arc::clone(&fake));
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        rt.spawn(async move { axum::serve(listener, app).await });
        (fake, url)
    }

    /// What `locate` answers from now on: (server id, endpoint), in this order.
    pub fn publish<'a>(&self, servers: impl IntoIterator<Item = (&'a str, &'a str)>) {
        *self.located.lock().unwrap() = servers
            .into_iter()
            .map(|(id, endpoint)| LocatedEndpoint {
                adapter: format!("{id}.Adapter"),
                server: id.to_owned(),
                endpoint: endpoint.to_owned(),
            })
            .collect();
    }

    /// The events' payloads so far.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.events.lock().unwrap().clone()
    }
}

async fn locate(
    State(fake): State<Arc<FakeGrid>>,
    UrlPath(id): UrlPath<String>,
) -> Json<LocateReply> {
    Json(LocateReply {
        id,
        kind: "replica-group".into(),
        endpoints: fake.located.lock().unwrap().clone(),
    })
}

async fn event(
    State(fake): State<Arc<FakeGrid>>,
    UrlPath(_id): UrlPath<String>,
    Json(ev): Json<ServerEvent>,
) -> Json<serde_json::Value> {
    // The per-spawn token both rigs give the render.
    assert_eq!(ev.token, "spawn-token");
    fake.events.lock().unwrap().push(ev.payload);
    Json(serde_json::json!({}))
}

/// What both rigs hold: a runtime, a folder, the fake registry-and-node, and the render.
pub struct Base {
    pub rt: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
    pub fake: Arc<FakeGrid>,
    pub fake_url: String,
    render: Option<std::process::Child>,
    pub render_url: String,
    pub http: reqwest::Client,
}

impl Base {
    /// The runtime, a fresh folder and the fake; no render yet.
    pub fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (fake, fake_url) = FakeGrid::start(&rt);
        Self {
            rt,
            dir: tempfile::tempdir().expect("tempdir"),
            fake,
            fake_url,
            render: None,
            render_url: String::new(),
            http: reqwest::Client::new(),
        }
    }

    /// Starts the render with `args`, its stdout in `log`, as the fake node would.
    pub fn start_render(&mut self, args: &[String], log: &Path) {
        let (child, url) = spawn_render(
            self.dir.path(),
            &self.fake_url,
            args,
            log,
            Duration::from_secs(60),
        );
        self.render = Some(child);
        self.render_url = url;
    }

    pub fn render_pid(&self) -> u32 {
        self.render.as_ref().expect("render").id()
    }

    /// SIGTERM to the render, and SIGKILL if it has not exited within 10 s. Its exit status, if
    /// it was running.
    pub fn stop_render(&mut self) -> Option<std::process::ExitStatus> {
        let mut r = self.render.take()?;
        grid_testkit::process::term(r.id());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match r.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => {
                    grid_testkit::kill9(r.id());
                    return r.wait().ok();
                }
            }
        }
    }

    /// `METHOD path` on the render with an optional JSON body: status and JSON answer.
    pub fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let url = format!("{}{path}", self.render_url);
        self.rt.block_on(call(&self.http, method, &url, body))
    }
}

impl Drop for Base {
    fn drop(&mut self) {
        self.stop_render();
    }
}
