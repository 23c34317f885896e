//! The benchmarks' grid: the test kit's registry and two nodes of release binaries, with the
//! async calls a benchmark times.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use grid_proto::api::{DescriptorSource, NodeView, ServerDetail, ServerState, ServerView};
use grid_proto::paths;
use grid_testkit::grid::Options;
use grid_testkit::process::rss_mb;

const NODES: [&str; 2] = ["node1", "node2"];

/// The nodes' backoff-reset period: a server up this long restarts at once when killed.
pub const BACKOFF_RESET: Duration = Duration::from_millis(200);

/// The running grid; SIGTERM to everything on drop, then the kit's SIGKILL by pid.
#[derive(Debug)]
pub struct Grid {
    inner: grid_testkit::Grid,
    http: reqwest::Client,
}

impl Drop for Grid {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Grid {
    /// Starts the registry (on a free port) and two nodes.
    pub async fn start(bin_dir: &Path) -> anyhow::Result<Self> {
        let options = Options {
            bin_dir: bin_dir.to_owned(),
            registry_args: vec!["--heartbeat-ms".into(), "500".into()],
            node_args: vec![
                "--backoff-reset-ms".into(),
                BACKOFF_RESET.as_millis().to_string(),
            ],
            ..Options::default()
        };
        let mut g = Self {
            inner: grid_testkit::Grid::with(options),
            http: reqwest::Client::builder().tcp_nodelay(true).build()?,
        };
        g.start_nodes();
        Ok(g)
    }

    fn start_nodes(&mut self) {
        for n in NODES {
            self.inner.spawn_node_local(n);
        }
    }

    /// The binary `name`.
    pub fn bin(&self, name: &str) -> std::path::PathBuf {
        self.inner.bin(name)
    }

    /// `gridadmin -u admin -p admin --registry URL`, to add a command to.
    pub fn admin_command(&self) -> std::process::Command {
        self.inner.admin_command()
    }

    /// The registry's URL.
    pub fn url(&self) -> &str {
        self.inner.url()
    }

    /// The grid's working directory.
    pub fn dir(&self) -> &Path {
        self.inner.dir()
    }

    /// A plain HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Launches the registry, on the port it had, and the nodes again after [`Grid::stop`].
    pub async fn launch(&mut self) -> anyhow::Result<()> {
        let listen = self.inner.registry_addr().to_owned();
        self.inner.start_registry(&listen);
        self.start_nodes();
        Ok(())
    }

    /// SIGTERM to the nodes (they stop their servers) and the registry; SIGKILL after 10 s.
    pub fn stop(&mut self) {
        self.inner.terminate(Duration::from_secs(10));
    }

    /// Deploys two MediaServers and two MediaRenders, one of each per node.
    pub async fn deploy(&self) -> anyhow::Result<()> {
        self.deploy_source(&grid_testkit::app::four_servers("media").toml())
            .await
    }

    /// Deploys an application from its descriptor.
    pub async fn deploy_source(&self, source: &str) -> anyhow::Result<()> {
        let body = DescriptorSource {
            source: source.into(),
        };
        let c = self.inner.login().await?;
        let _: serde_json::Value = c.post(paths::APPLICATIONS, &body).await?;
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
            if let Ok(c) = self.inner.login().await
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
        let nodes: Vec<NodeView> = self.inner.login().await?.get(paths::NODES).await?;
        Ok(nodes.into_iter().map(|n| n.endpoint).collect())
    }

    /// The pid of an active server.
    pub async fn pid_of(&self, id: &str) -> anyhow::Result<u32> {
        let path = paths::fill(paths::SERVER, &[id]);
        let s: ServerDetail = self.inner.login().await?.get(&path).await?;
        s.view
            .runtime
            .pid
            .with_context(|| format!("{id} has no pid"))
    }

    /// The registry's pid, while it runs.
    pub fn registry_pid(&self) -> Option<u32> {
        self.inner.registry_pid()
    }

    /// The registry's resident memory, in MB.
    pub fn registry_rss_mb(&self) -> f64 {
        self.registry_pid().map_or(0.0, rss_mb)
    }

    /// A node's resident memory, in MB.
    pub fn node_rss_mb(&self, node: &str) -> f64 {
        self.inner.node_pid(node).map_or(0.0, rss_mb)
    }
}
