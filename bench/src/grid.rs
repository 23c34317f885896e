//! A throw-away grid for the benchmarks: registry and two nodes on free ports in a temp dir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use grid_proto::api::{DescriptorSource, LoginReply, ServerState, ServerView};
use grid_proto::client::Client;
use grid_proto::paths;

const NODES: [&str; 2] = ["node1", "node2"];

/// Issue 2's application: a MediaServer and a MediaRender on each node.
const FOUR_SERVERS: &str = r#"
name = "Spotifice"
[replica-groups.MediaServerGroup]
load-balancing = "round-robin"
[templates.MediaServer]
parameters = ["index"]
[templates.MediaServer.server]
id = "MediaServer-${index}"
exe = "media-server"
args = ["--library", "media"]
log = "mediaserver${index}.log"
adapters = [{ name = "Adapter", replica-group = "MediaServerGroup" }]
[templates.MediaRender]
parameters = ["index"]
[templates.MediaRender.server]
id = "MediaRender-${index}"
exe = "media-render"
log = "mediarender${index}.log"
adapters = [{ name = "Adapter" }]
[[nodes.node1.server-instances]]
template = "MediaServer"
parameters = { index = "1" }
[[nodes.node1.server-instances]]
template = "MediaRender"
parameters = { index = "1" }
[[nodes.node2.server-instances]]
template = "MediaServer"
parameters = { index = "2" }
[[nodes.node2.server-instances]]
template = "MediaRender"
parameters = { index = "2" }
"#;
/// The nodes' backoff-reset period: a server up this long restarts at once when killed.
pub const BACKOFF_RESET: Duration = Duration::from_millis(200);

/// The running grid; everything is killed by pid (servers by process group) on drop.
#[derive(Debug)]
pub struct Grid {
    dir: tempfile::TempDir,
    bin_dir: PathBuf,
    url: String,
    listen: String,
    registry: Option<Child>,
    nodes: Vec<Child>,
    http: reqwest::Client,
}

impl Drop for Grid {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_file(path: &Path, timeout: Duration) -> anyhow::Result<String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && !s.trim().is_empty()
        {
            return Ok(s.trim().to_owned());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

impl Grid {
    /// Starts the registry (on a free port) and two nodes.
    pub async fn start(bin_dir: &Path) -> anyhow::Result<Self> {
        let mut g = Self {
            dir: tempfile::tempdir()?,
            bin_dir: bin_dir.to_owned(),
            url: String::new(),
            listen: "127.0.0.1:0".into(),
            registry: None,
            nodes: Vec::new(),
            http: reqwest::Client::builder().tcp_nodelay(true).build()?,
        };
        std::fs::create_dir_all(g.dir.path().join("media"))?;
        g.launch().await?;
        Ok(g)
    }

    /// The binary `name`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// The registry's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The grid's working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A plain HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn spawn(&self, exe: &str, args: &[&str], log: &str) -> anyhow::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(log))?;
        Command::new(self.bin(exe))
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {exe}"))
    }

    /// Launches the registry and the nodes (on the registry's previous port after the first time).
    pub async fn launch(&mut self) -> anyhow::Result<()> {
        let addr = self.dir.path().join("registry.addr");
        let _ = std::fs::remove_file(&addr);
        let listen = self.listen.clone();
        self.registry = Some(self.spawn(
            "gridregistry",
            &[
                "--listen",
                &listen,
                "--data",
                "registry_data",
                "--addr-file",
                "registry.addr",
                "--heartbeat-ms",
                "500",
            ],
            "registry.log",
        )?);
        let a = wait_file(&addr, Duration::from_secs(20))?;
        self.listen = a.clone();
        self.url = format!("http://{a}");
        for n in NODES {
            let data = format!("{n}_data");
            let child = self.spawn(
                "gridnode",
                &[
                    "--name",
                    n,
                    "--registry",
                    &self.url.clone(),
                    "--data",
                    &data,
                    "--secret-file",
                    "registry_data/cluster.secret",
                    "--backoff-reset-ms",
                    &BACKOFF_RESET.as_millis().to_string(),
                ],
                &format!("{n}.log"),
            )?;
            self.nodes.push(child);
        }
        Ok(())
    }

    /// SIGTERM to the nodes (they stop their servers) and the registry; SIGKILL after 10 s.
    pub fn stop(&mut self) {
        let mut children: Vec<Child> = self.nodes.drain(..).collect();
        children.extend(self.registry.take());
        for c in &children {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for mut c in children {
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(2));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    async fn admin(&self) -> anyhow::Result<Client> {
        let anon = Client::new(&self.url, "registry")?;
        let r: LoginReply = anon
            .post(
                paths::SESSIONS,
                &serde_json::json!({"user": "admin", "password": "admin"}),
            )
            .await?;
        Ok(anon.bearer(&r.token)?)
    }

    /// Deploys two MediaServers and two MediaRenders, one of each per node.
    pub async fn deploy(&self) -> anyhow::Result<()> {
        self.deploy_source(FOUR_SERVERS).await
    }

    /// Deploys an application from its descriptor.
    pub async fn deploy_source(&self, source: &str) -> anyhow::Result<()> {
        let c = self.admin().await?;
        let _: serde_json::Value = c
            .post(
                paths::APPLICATIONS,
                &DescriptorSource {
                    source: source.into(),
                },
            )
            .await?;
        Ok(())
    }

    /// Waits until all four servers are active on up nodes.
    pub async fn wait_all_active(&self, timeout: Duration) -> anyhow::Result<()> {
        self.wait_active(4, timeout).await
    }

    /// Waits until `count` servers are all active on up nodes.
    pub async fn wait_active(&self, count: usize, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(c) = self.admin().await
                && let Ok(servers) = c.get::<Vec<ServerView>>(paths::SERVERS).await
                && servers.len() == count
                && servers
                    .iter()
                    .all(|s| s.node_up && s.runtime.state == ServerState::Active)
            {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "the servers did not all become active"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Each node's API URL, as the registry lists them.
    pub async fn node_endpoints(&self) -> anyhow::Result<Vec<String>> {
        let c = self.admin().await?;
        let nodes: Vec<grid_proto::api::NodeView> = c.get(paths::NODES).await?;
        Ok(nodes.into_iter().map(|n| n.endpoint).collect())
    }

    /// The pid of an active server.
    pub async fn pid_of(&self, id: &str) -> anyhow::Result<u32> {
        let c = self.admin().await?;
        let s: grid_proto::api::ServerDetail = c.get(&paths::fill(paths::SERVER, &[id])).await?;
        s.view
            .runtime
            .pid
            .with_context(|| format!("{id} has no pid"))
    }

    /// SIGKILL by pid.
    pub fn kill9(&self, pid: u32) {
        // The syscall, not kill(1): several kills must land within microseconds of each other.
        if let Ok(pid) = i32::try_from(pid) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }

    /// The resident memory of a process, in MB.
    pub fn rss_mb(pid: u32) -> f64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(0.0, |kb| kb / 1024.0)
    }

    /// The registry's pid, while it runs.
    pub fn registry_pid(&self) -> Option<u32> {
        self.registry.as_ref().map(Child::id)
    }

    /// The registry's resident memory.
    pub fn registry_rss_mb(&self) -> f64 {
        self.registry.as_ref().map_or(0.0, |c| Self::rss_mb(c.id()))
    }

    /// A node's resident memory.
    pub fn node_rss_mb(&self, node: &str) -> f64 {
        NODES
            .iter()
            .position(|n| *n == node)
            .and_then(|i| self.nodes.get(i))
            .map_or(0.0, |c| Self::rss_mb(c.id()))
    }
}
