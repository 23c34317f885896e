//! The harness: a grid of real binaries in a temp dir, on loopback or spread over network
//! namespaces (one "host" each). Every process is killed by pid, servers by process group, when
//! the grid is dropped, so nothing is left behind and other grids on the machine are untouched.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use grid_proto::api::{
    ApplicationChanged, DescriptorSource, LocateReply, LoginReply, ServerState, ServerView,
};
use grid_proto::client::Client;
use grid_proto::paths;

/// Where cargo put the workspace's binaries (the parent of this test's `deps/` folder).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test exe");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first",
        path.display()
    );
    path
}

/// Polls `probe` until it gives a value; panics after `timeout`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// SIGKILL to a process group.
pub fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

/// SIGKILL to one process.
pub fn kill9(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status();
}

/// Is `pid` a live (non-zombie) process?
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit(") ").next().map(|r| !r.starts_with('Z')))
        .unwrap_or(false)
}

/// Where each process runs: a network namespace and the address it binds.
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

/// A grid in a temporary directory.
pub struct Grid {
    pub dir: tempfile::TempDir,
    pub url: String,
    registry: Option<Child>,
    registry_place: Place,
    nodes: Vec<(String, Child)>,
    seen_pids: RefCell<BTreeSet<u32>>,
    rt: tokio::runtime::Runtime,
    /// Extra arguments of every node started from now on.
    pub node_args: Vec<String>,
}

impl Drop for Grid {
    fn drop(&mut self) {
        // Nodes first, so that no server is restarted from here on; then the registry's last
        // word on every server's pid (servers restarted after a kill included), then the rest.
        for (_, n) in &mut self.nodes {
            let _ = n.kill();
            let _ = n.wait();
        }
        let _ = self.servers();
        if let Some(r) = &mut self.registry {
            let _ = r.kill();
            let _ = r.wait();
        }
        for pid in self.seen_pids.borrow().iter() {
            kill_group(*pid);
        }
    }
}

impl Grid {
    /// A registry on a free loopback port.
    pub fn new() -> Self {
        Self::with_registry_at(Place::local())
    }

    /// A registry at `place`, on a free port.
    pub fn with_registry_at(place: Place) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut g = Self {
            dir: tempfile::tempdir().unwrap(),
            url: String::new(),
            registry: None,
            registry_place: place.clone(),
            nodes: Vec::new(),
            seen_pids: RefCell::default(),
            rt,
            node_args: Vec::new(),
        };
        std::fs::create_dir_all(g.dir.path().join("media")).unwrap();
        g.start_registry(&format!("{}:0", place.address));
        g
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(name))
            .unwrap()
    }

    /// Starts the registry listening on `listen`.
    pub fn start_registry(&mut self, listen: &str) {
        let addr = self.dir.path().join("registry.addr");
        let _ = std::fs::remove_file(&addr);
        let child = self
            .registry_place
            .command(&bin("gridregistry"))
            .current_dir(self.dir.path())
            .args([
                "--listen",
                listen,
                "--data",
                "registry_data",
                "--heartbeat-ms",
                "200",
                "--node-timeout-ms",
                "1500",
            ])
            .arg("--addr-file")
            .arg(&addr)
            .stdout(Stdio::null())
            .stderr(self.log("registry.log"))
            .spawn()
            .unwrap();
        self.registry = Some(child);
        let a = wait_until(
            "the registry's address file",
            Duration::from_secs(20),
            || {
                std::fs::read_to_string(&addr)
                    .ok()
                    .filter(|s| !s.is_empty())
            },
        );
        self.url = format!("http://{}", a.trim());
    }

    /// SIGKILL to the registry.
    pub fn kill_registry(&mut self) {
        if let Some(mut r) = self.registry.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
    }

    /// Starts node `name` on loopback.
    pub fn start_node(&mut self, name: &str) {
        self.start_node_at(name, &Place::local());
    }

    /// Starts node `name` at `place`.
    pub fn start_node_at(&mut self, name: &str, place: &Place) {
        let addr = self.dir.path().join(format!("{name}.addr"));
        let _ = std::fs::remove_file(&addr);
        let child = place
            .command(&bin("gridnode"))
            .current_dir(self.dir.path())
            .args([
                "--name",
                name,
                "--registry",
                &self.url,
                "--data",
                &format!("{name}_data"),
            ])
            .args([
                "--address",
                &place.address,
                "--secret-file",
                "registry_data/cluster.secret",
            ])
            .args(["--backoff-max-ms", "2000"])
            .args(&self.node_args)
            .arg("--addr-file")
            .arg(&addr)
            .stdout(Stdio::null())
            .stderr(self.log(&format!("{name}.log")))
            .spawn()
            .unwrap();
        self.nodes.push((name.to_owned(), child));
        wait_until("the node's address file", Duration::from_secs(20), || {
            addr.exists().then_some(())
        });
    }

    /// SIGKILL to a node (its servers keep running).
    pub fn kill_node(&mut self, name: &str) {
        if let Some(i) = self.nodes.iter().position(|(n, _)| n == name) {
            let (_, mut c) = self.nodes.remove(i);
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Runs `gridadmin -u admin -p admin -e cmd`.
    pub fn admin(&self, cmd: &str) -> Output {
        Command::new(bin("gridadmin"))
            .args([
                "-u",
                "admin",
                "-p",
                "admin",
                "--registry",
                &self.url,
                "-e",
                cmd,
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn client(&self) -> Option<Client> {
        self.rt.block_on(async {
            let anon = Client::new(&self.url, "registry").ok()?;
            let body = serde_json::json!({"user": "admin", "password": "admin"});
            let r: LoginReply = anon.post(paths::SESSIONS, &body).await.ok()?;
            anon.bearer(&r.token).ok()
        })
    }

    /// Adds an application.
    pub fn deploy(&self, source: &str) -> ApplicationChanged {
        let c = self.client().expect("registry");
        self.rt
            .block_on(c.post(
                paths::APPLICATIONS,
                &DescriptorSource {
                    source: source.into(),
                },
            ))
            .unwrap()
    }

    /// Updates an application.
    pub fn update(&self, name: &str, source: &str) -> ApplicationChanged {
        let c = self.client().expect("registry");
        self.rt
            .block_on(c.put(
                &paths::fill(paths::APPLICATION, &[name]),
                &DescriptorSource {
                    source: source.into(),
                },
            ))
            .unwrap()
    }

    /// Every server, or `None` while the registry does not answer.
    pub fn servers(&self) -> Option<Vec<ServerView>> {
        let c = self.client()?;
        let servers = self
            .rt
            .block_on(c.get::<Vec<ServerView>>(paths::SERVERS))
            .ok()?;
        self.seen_pids
            .borrow_mut()
            .extend(servers.iter().filter_map(|s| s.runtime.pid));
        Some(servers)
    }

    /// One server.
    pub fn server(&self, id: &str) -> Option<ServerView> {
        self.servers()?.into_iter().find(|s| s.id == id)
    }

    /// Runs `fut` on the grid's runtime.
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.rt.block_on(fut)
    }

    /// Subscribes to the registry's event stream.
    pub fn events(&self) -> Events<'_> {
        let resp = self
            .rt
            .block_on(reqwest::get(format!("{}{}", self.url, paths::EVENTS)))
            .unwrap();
        Events {
            grid: self,
            resp,
            buf: String::new(),
        }
    }

    /// The endpoints `locate` answers for `id`.
    pub fn locate(&self, id: &str) -> Vec<String> {
        let c = Client::new(&self.url, "registry").unwrap();
        let r: LocateReply = self
            .rt
            .block_on(c.get(&paths::fill(paths::LOCATE, &[id])))
            .unwrap();
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
}

/// A subscription to `GET /v1/events`.
pub struct Events<'a> {
    grid: &'a Grid,
    resp: reqwest::Response,
    buf: String,
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
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                    let v: serde_json::Value = serde_json::from_str(data.trim()).unwrap();
                    if pred(&v) {
                        return v;
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let resp = &mut self.resp;
            let chunk = self
                .grid
                .rt
                .block_on(async { tokio::time::timeout(left, resp.chunk()).await })
                .expect("no matching event before the deadline")
                .unwrap()
                .expect("the event stream ended");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
