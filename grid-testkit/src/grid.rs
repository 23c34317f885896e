//! A grid of real binaries in a temporary directory: a registry on a free port and nodes that
//! join it, on loopback or spread over network namespaces (one "host" each).
//!
//! Dropping the grid kills every process it started by pid: the nodes first, so that nothing is
//! restarted, then every server whose environment names this grid's registry (servers restarted
//! after a kill included) by process group, then the registry. Other grids on the machine are
//! untouched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use grid_proto::api::{
    ApplicationChanged, ApplicationSummary, DescriptorSource, LocateReply, LoginReply, NodeView,
    ServerState, ServerView,
};
use grid_proto::client::{Client, ClientError};
use grid_proto::sse::SseDecoder;
use grid_proto::{paths, server_env};

use crate::bins;
use crate::process::{self, addr_file, kill_group, kill9};
use crate::wait::wait_until;

/// How long a process may take to write its address file.
const START: Duration = Duration::from_secs(20);

/// Where a process runs: a network namespace and the address it binds.
#[derive(Debug, Clone)]
pub struct Place {
    /// Namespace name, or none for the test's own.
    pub netns: Option<String>,
    /// Address to bind and advertise.
    pub address: String,
}

impl Place {
    /// The test's own namespace, on loopback.
    pub fn local() -> Self {
        Self {
            netns: None,
            address: "127.0.0.1".into(),
        }
    }

    fn command(&self, exe: &Path) -> Command {
        match &self.netns {
            None => Command::new(exe),
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(exe);
                c
            }
        }
    }
}

/// How a grid is started: what [`Grid::new`] uses unless told otherwise.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the binaries are.
    pub bin_dir: PathBuf,
    /// Where the registry runs.
    pub registry_at: Place,
    /// Flags of the registry after `--listen`, `--data` and `--addr-file`.
    pub registry_args: Vec<String>,
    /// Flags of every node after its name, registry, data folder, address and secret.
    pub node_args: Vec<String>,
    /// The admin's first password given as `GRID_ADMIN_PASSWORD` (`admin`, chosen, so not one
    /// to be changed at first login); `None` for a registry's own default, which must be.
    pub admin_password: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bin_dir: bins::bin_dir(),
            registry_at: Place::local(),
            registry_args: ["--heartbeat-ms", "200", "--node-timeout-ms", "1500"]
                .map(String::from)
                .into(),
            node_args: ["--backoff-max-ms", "2000"].map(String::from).into(),
            admin_password: Some("admin".into()),
        }
    }
}

/// A running grid.
#[derive(Debug)]
pub struct Grid {
    dir: tempfile::TempDir,
    url: String,
    /// Every URL the registry has had: its servers are found by it on drop.
    urls: Vec<String>,
    registry: Option<Child>,
    nodes: Vec<(String, Child)>,
    /// Made on first use, so that an async caller that never blocks does not hold one.
    rt: OnceLock<tokio::runtime::Runtime>,
    /// How it was started; `node_args` applies to the nodes started from now on.
    pub options: Options,
}

impl Drop for Grid {
    fn drop(&mut self) {
        for (_, n) in &mut self.nodes {
            kill9(n.id());
            let _ = n.wait();
        }
        for url in &self.urls {
            for pid in process::with_env(&[format!("{}={url}", server_env::REGISTRY_URL)]) {
                kill_group(pid);
                kill9(pid);
            }
        }
        if let Some(r) = &mut self.registry {
            kill9(r.id());
            let _ = r.wait();
        }
    }
}

impl Grid {
    /// A registry on a free loopback port, with the test defaults, and no node yet.
    pub fn new() -> Self {
        Self::with(Options::default())
    }

    /// A registry started as `options` say, on a free port, and no node yet.
    pub fn with(options: Options) -> Self {
        let mut g = Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            url: String::new(),
            urls: Vec::new(),
            registry: None,
            nodes: Vec::new(),
            rt: OnceLock::new(),
            options,
        };
        std::fs::create_dir_all(g.dir.path().join("media")).expect("the grid's media folder");
        let listen = format!("{}:0", g.options.registry_at.address);
        g.start_registry(&listen);
        g
    }

    /// The registry's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The grid's working directory (every process runs in it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The binary `name`.
    pub fn bin(&self, name: &str) -> PathBuf {
        bins::in_dir(&self.options.bin_dir, name)
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(name))
            .expect("a log file in the grid's directory")
    }

    /// Starts the registry listening on `listen` (`host:0` for a free port).
    pub fn start_registry(&mut self, listen: &str) {
        let addr = self.dir.path().join("registry.addr");
        let _ = std::fs::remove_file(&addr);
        let mut child = self
            .options
            .registry_at
            .command(&self.bin("gridregistry"))
            .current_dir(self.dir.path())
            .args(["--listen", listen, "--data", "registry_data"])
            .arg("--addr-file")
            .arg(&addr)
            .args(&self.options.registry_args)
            .env_remove("GRID_ADMIN_PASSWORD")
            .envs(
                self.options
                    .admin_password
                    .iter()
                    .map(|p| ("GRID_ADMIN_PASSWORD", p)),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(self.log("registry.log"))
            .spawn()
            .expect("gridregistry starts");
        let bound = addr_file(&mut child, &addr, START);
        self.registry = Some(child);
        self.url = format!("http://{bound}");
        if !self.urls.contains(&self.url) {
            self.urls.push(self.url.clone());
        }
    }

    /// The address the registry listens on (`host:port`).
    pub fn registry_addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// The registry's pid, while it runs.
    pub fn registry_pid(&self) -> Option<u32> {
        self.registry.as_ref().map(Child::id)
    }

    /// SIGKILL to the registry.
    pub fn kill_registry(&mut self) {
        if let Some(mut r) = self.registry.take() {
            kill9(r.id());
            let _ = r.wait();
        }
    }

    /// SIGTERM to the nodes (they stop their servers) and the registry; SIGKILL to whatever has
    /// not exited after `grace`.
    pub fn terminate(&mut self, grace: Duration) {
        let mut children: Vec<Child> = self.nodes.drain(..).map(|(_, c)| c).collect();
        children.extend(self.registry.take());
        for c in &children {
            process::term(c.id());
        }
        let deadline = Instant::now() + grace;
        for mut c in children {
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(2));
            }
            kill9(c.id());
            let _ = c.wait();
        }
    }

    /// Starts node `name` on loopback; waits until it listens.
    pub fn start_node(&mut self, name: &str) {
        self.start_node_at(name, &Place::local());
    }

    /// Starts node `name` at `place`; waits until it listens.
    pub fn start_node_at(&mut self, name: &str, place: &Place) {
        let child = self.spawn_node(name, place);
        let addr = self.dir.path().join(format!("{name}.addr"));
        self.nodes.push((name.to_owned(), child));
        let child = &mut self.nodes.last_mut().expect("just pushed").1;
        addr_file(child, &addr, START);
    }

    /// Starts node `name` on loopback without waiting for it.
    pub fn spawn_node_local(&mut self, name: &str) {
        let child = self.spawn_node(name, &Place::local());
        self.nodes.push((name.to_owned(), child));
    }

    fn spawn_node(&self, name: &str, place: &Place) -> Child {
        let addr = self.dir.path().join(format!("{name}.addr"));
        let _ = std::fs::remove_file(&addr);
        place
            .command(&self.bin("gridnode"))
            .current_dir(self.dir.path())
            .args(["--name", name, "--registry", &self.url])
            .args([
                "--data",
                &format!("{name}_data"),
                "--address",
                &place.address,
            ])
            .args(["--secret-file", "registry_data/cluster.secret"])
            .arg("--addr-file")
            .arg(&addr)
            .args(&self.options.node_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(self.log(&format!("{name}.log")))
            .spawn()
            .expect("gridnode starts")
    }

    /// The pid of node `name`, while it runs.
    pub fn node_pid(&self, name: &str) -> Option<u32> {
        self.nodes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.id())
    }

    /// SIGKILL to a node (its servers keep running).
    pub fn kill_node(&mut self, name: &str) {
        if let Some(i) = self.nodes.iter().position(|(n, _)| n == name) {
            let (_, mut c) = self.nodes.remove(i);
            kill9(c.id());
            let _ = c.wait();
        }
    }

    /// `gridadmin -u admin -p admin --registry URL`, with no stdin, to add a command to.
    pub fn admin_command(&self) -> Command {
        let mut c = Command::new(self.bin("gridadmin"));
        c.args(["-u", "admin", "-p", "admin", "--registry", &self.url])
            .stdin(Stdio::null());
        c
    }

    /// Runs `gridadmin -u admin -p admin -e cmd` against the registry.
    pub fn admin(&self, cmd: &str) -> Output {
        self.admin_with(&[], cmd)
    }

    /// Runs `gridadmin -u admin -p admin FLAGS -e cmd` against the registry.
    pub fn admin_with(&self, flags: &[&str], cmd: &str) -> Output {
        self.admin_command()
            .args(flags)
            .args(["-e", cmd])
            .output()
            .expect("gridadmin runs")
    }

    /// A client logged in as admin.
    pub async fn login(&self) -> Result<Client, ClientError> {
        let anon = Client::new(&self.url, "registry")?;
        let body = serde_json::json!({"user": "admin", "password": "admin"});
        let r: LoginReply = anon.post(paths::SESSIONS, &body).await?;
        anon.bearer(&r.token)
    }

    /// Runs `fut` on the grid's own runtime (not from inside an async task).
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.rt
            .get_or_init(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a tokio runtime")
            })
            .block_on(fut)
    }

    /// Adds an application.
    pub fn deploy(&self, source: &str) -> ApplicationChanged {
        self.block_on(async {
            let body = DescriptorSource {
                source: source.into(),
            };
            self.login().await?.post(paths::APPLICATIONS, &body).await
        })
        .expect("the application is deployed")
    }

    /// Updates an application.
    pub fn update(&self, name: &str, source: &str) -> ApplicationChanged {
        self.block_on(async {
            let body = DescriptorSource {
                source: source.into(),
            };
            let path = paths::fill(paths::APPLICATION, &[name]);
            self.login().await?.put(&path, &body).await
        })
        .expect("the application is updated")
    }

    /// Every server, or `None` while the registry does not answer.
    pub fn servers(&self) -> Option<Vec<ServerView>> {
        self.block_on(async { self.login().await?.get(paths::SERVERS).await })
            .ok()
    }

    /// The applications, or `None` while the registry does not answer.
    pub fn applications(&self) -> Option<Vec<ApplicationSummary>> {
        self.block_on(async { self.login().await?.get(paths::APPLICATIONS).await })
            .ok()
    }

    /// Every node the registry knows, or `None` while it does not answer.
    pub fn nodes(&self) -> Option<Vec<NodeView>> {
        self.block_on(async { self.login().await?.get(paths::NODES).await })
            .ok()
    }

    /// Waits until the registry has node `name` up.
    pub fn wait_node_up(&self, name: &str) {
        wait_until(&format!("{name} up"), Duration::from_secs(30), || {
            self.nodes()?
                .iter()
                .any(|n| n.name == name && n.up)
                .then_some(())
        });
    }

    /// One server.
    pub fn server(&self, id: &str) -> Option<ServerView> {
        self.servers()?.into_iter().find(|s| s.id == id)
    }

    /// The endpoints `locate` answers for `id`.
    pub fn locate(&self, id: &str) -> Vec<String> {
        let r: LocateReply = self
            .block_on(async {
                let c = Client::new(&self.url, "registry")?;
                c.get(&paths::fill(paths::LOCATE, &[id])).await
            })
            .expect("locate answers");
        r.endpoints.into_iter().map(|e| e.endpoint).collect()
    }

    /// Waits until `id` is active on an up node (with a pid other than `not_pid`); its pid.
    pub fn wait_active(&self, id: &str, not_pid: Option<u32>) -> u32 {
        wait_until(&format!("{id} active"), Duration::from_secs(30), || {
            let s = self.server(id)?;
            let pid = s.runtime.pid?;
            (s.node_up && s.runtime.state == ServerState::Active && Some(pid) != not_pid)
                .then_some(pid)
        })
    }

    /// Subscribes to the registry's event stream.
    pub fn events(&self) -> Events<'_> {
        let url = format!("{}{}", self.url, paths::EVENTS);
        let resp = self
            .block_on(reqwest::get(url))
            .expect("the event stream opens");
        Events {
            grid: self,
            resp,
            decoder: SseDecoder::new(),
        }
    }
}

impl Default for Grid {
    fn default() -> Self {
        Self::new()
    }
}

/// A subscription to the registry's event stream.
pub struct Events<'a> {
    grid: &'a Grid,
    resp: reqwest::Response,
    decoder: SseDecoder,
}

impl Events<'_> {
    /// The first event (the JSON of its `data:` line) that `pred` accepts, within `timeout`.
    pub fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(event) = self.decoder.next_event().expect("a well-formed stream") {
                let v: serde_json::Value =
                    serde_json::from_str(&event.data).expect("an event is JSON");
                if pred(&v) {
                    return v;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let resp = &mut self.resp;
            let chunk = self
                .grid
                .block_on(async { tokio::time::timeout(left, resp.chunk()).await })
                .expect("no matching event before the deadline")
                .expect("the event stream reads")
                .expect("the event stream ended");
            self.decoder.feed(&chunk);
        }
    }
}
