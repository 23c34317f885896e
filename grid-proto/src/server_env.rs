//! The contract between a node and the servers it spawns.
//!
//! The node passes each server its identity and the node's local URL in environment variables;
//! the server binds port 0 on [`ServerEnv::host`], then calls [`ServerEnv::report_ready`] with
//! the endpoint of each adapter. Only then is the server `active`.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::api::ReadyReport;
use crate::client::{Client, ClientError};

/// Server id.
pub const SERVER_ID: &str = "GRID_SERVER_ID";
/// Application name.
pub const APPLICATION: &str = "GRID_APPLICATION";
/// Node name.
pub const NODE_NAME: &str = "GRID_NODE_NAME";
/// The node's API URL, for readiness.
pub const NODE_URL: &str = "GRID_NODE_URL";
/// The address the server binds and advertises (the node's address).
pub const HOST: &str = "GRID_HOST";
/// `name=id` pairs, comma-separated: the adapters the server must report.
pub const ADAPTERS: &str = "GRID_ADAPTERS";
/// The per-spawn token that authenticates the readiness report.
pub const READY_TOKEN: &str = "GRID_READY_TOKEN";
/// The registry's URL, for locate and events.
pub const REGISTRY_URL: &str = "GRID_REGISTRY_URL";
/// The grid's service key (`crate::secret::service_key`): servers make and check each other's
/// stream and control tokens with it.
pub const SERVICE_KEY: &str = "GRID_SERVICE_KEY";

/// What a server learns from its node.
#[derive(Debug, Clone)]
pub struct ServerEnv {
    /// Server id.
    pub id: String,
    /// Node name.
    pub node: String,
    /// Node API URL.
    pub node_url: String,
    /// Address to bind and advertise.
    pub host: String,
    /// Adapter name → adapter id.
    pub adapters: BTreeMap<String, String>,
    /// Readiness token.
    pub token: String,
    /// Registry URL.
    pub registry_url: Option<String>,
    /// The grid's service key; none for a server run by hand, whose streams and controls are
    /// then open to anyone.
    pub service_key: Option<String>,
}

impl ServerEnv {
    /// Reads the environment; `None` when the process was not started by a node.
    pub fn from_env() -> Option<Self> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let adapters = get(ADAPTERS)
            .unwrap_or_default()
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(n, i)| (n.to_owned(), i.to_owned()))
            .collect();
        Some(Self {
            id: get(SERVER_ID)?,
            node: get(NODE_NAME).unwrap_or_default(),
            node_url: get(NODE_URL)?,
            host: get(HOST).unwrap_or_else(|| "127.0.0.1".into()),
            adapters,
            token: get(READY_TOKEN).unwrap_or_default(),
            registry_url: get(REGISTRY_URL),
            service_key: get(SERVICE_KEY),
        })
    }

    /// Encodes adapters for [`ADAPTERS`].
    pub fn encode_adapters<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
        pairs
            .into_iter()
            .map(|(n, i)| format!("{n}={i}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Tells the node that every adapter is served at `url`. A server without adapters is active
    /// as soon as it is spawned, so there is nothing to report.
    pub async fn report_all_ready(&self, url: &str) -> Result<(), ClientError> {
        if self.adapters.is_empty() {
            return Ok(());
        }
        self.report_ready(
            self.adapters
                .keys()
                .map(|name| (name.clone(), url.to_owned()))
                .collect(),
        )
        .await
    }

    /// Tells the node the server is ready, with each adapter's endpoint (adapter name → URL).
    pub async fn report_ready(
        &self,
        endpoints: BTreeMap<String, String>,
    ) -> Result<(), ClientError> {
        let client = Client::new(&self.node_url, "node")?;
        let body = ReadyReport {
            token: self.token.clone(),
            endpoints,
        };
        let _: serde_json::Value = client
            .post(
                &crate::paths::fill(crate::paths::NODE_SERVER_READY, &[&self.id]),
                &body,
            )
            .await?;
        Ok(())
    }
}

/// Runs a grid server's `serve` future and, when a node started the process, reports ready at
/// `url` as soon as serving has begun. A failed report ends the process with an error, so the node
/// restarts it; serving that ends first (a stop before the report) ends it too.
pub async fn serve_as_member<F>(grid: Option<&ServerEnv>, url: &str, serve: F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    use anyhow::Context;
    let mut server = tokio::spawn(serve);
    if let Some(grid) = grid {
        tokio::select! {
            done = &mut server => return done.context("the server task failed")?.context("serving"),
            ready = grid.report_all_ready(url) => {
                if let Err(e) = ready {
                    server.abort();
                    return Err(anyhow::Error::from(e).context(format!("cannot report ready to node at {}", grid.node_url)));
                }
            }
        }
    }
    server
        .await
        .context("the server task failed")?
        .context("serving")
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// The address a server binds: `listen` if given, else the node's host on port 0, else
/// `127.0.0.1:0`.
pub fn listen_addr(listen: Option<&str>, grid: Option<&ServerEnv>) -> String {
    match listen {
        Some(l) => l.to_owned(),
        None => format!(
            "{}:0",
            bracket(grid.map_or("127.0.0.1", |g| g.host.as_str()))
        ),
    }
}

/// The URL clients reach a server at: its bound address, or the node's host when it is bound
/// to every interface.
pub fn endpoint(bound: SocketAddr, grid: Option<&ServerEnv>) -> String {
    if bound.ip().is_unspecified() {
        format!(
            "http://{}:{}",
            bracket(grid.map_or("127.0.0.1", |g| g.host.as_str())),
            bound.port()
        )
    } else {
        format!("http://{bound}")
    }
}

/// A grid server's `main` once its configuration is read: runs `serve` on one thread (the grid
/// restarts servers often and counts their start-up time and memory) and turns the outcome into
/// the exit code: 0, or 1 with the error logged as `{id} failed` and printed on stderr.
pub fn run_server(
    id: &str,
    serve: impl std::future::Future<Output = anyhow::Result<()>>,
) -> std::process::ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("starting the runtime: {e}"))
        .and_then(|runtime| runtime.block_on(serve));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{id} failed: {e:#}");
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The accept queue of [`serve_on`] for a server without bursts of clients: tokio's own.
pub const BACKLOG: u32 = 1024;

/// [`run_server`] for a server that listens: binds `addr` with an accept queue of `backlog`
/// (an error names the address), then runs `serve` on the listener.
pub fn serve_on<F>(
    id: &str,
    addr: &str,
    backlog: u32,
    serve: impl FnOnce(tokio::net::TcpListener) -> F,
) -> std::process::ExitCode
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    use anyhow::Context;
    run_server(id, async move {
        let listener = bind(addr, backlog)
            .await
            .with_context(|| format!("binding {addr}"))?;
        serve(listener).await
    })
}

/// Listens on the first address of `addr` that binds, as tokio's `TcpListener::bind` does
/// (address reuse on), but with an accept queue of `backlog`.
async fn bind(addr: &str, backlog: u32) -> std::io::Result<tokio::net::TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(backlog)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(host: &str) -> ServerEnv {
        ServerEnv {
            id: "S-1".into(),
            node: "node1".into(),
            node_url: "http://127.0.0.1:1".into(),
            host: host.into(),
            adapters: BTreeMap::new(),
            token: String::new(),
            registry_url: None,
            service_key: None,
        }
    }

    #[test]
    fn listen_address_comes_from_flag_then_host() {
        assert_eq!(
            listen_addr(Some("0.0.0.0:9000"), Some(&env("10.0.0.1"))),
            "0.0.0.0:9000"
        );
        assert_eq!(listen_addr(None, Some(&env("10.0.0.1"))), "10.0.0.1:0");
        assert_eq!(listen_addr(None, Some(&env("::1"))), "[::1]:0");
        assert_eq!(listen_addr(None, None), "127.0.0.1:0");
    }

    #[test]
    fn endpoint_advertises_the_host_when_bound_everywhere() {
        let bound: SocketAddr = "127.0.0.1:4100".parse().unwrap();
        assert_eq!(endpoint(bound, None), "http://127.0.0.1:4100");
        let any: SocketAddr = "0.0.0.0:4100".parse().unwrap();
        assert_eq!(
            endpoint(any, Some(&env("10.0.0.1"))),
            "http://10.0.0.1:4100"
        );
        assert_eq!(endpoint(any, None), "http://127.0.0.1:4100");
    }
}
