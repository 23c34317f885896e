//! The contract between a node and the servers it spawns.
//!
//! The node passes each server its identity and the node's local URL in environment variables;
//! the server binds port 0 on [`ServerEnv::host`], then calls [`ServerEnv::report_ready`] with
//! the endpoint of each adapter. Only then is the server `active`.

use std::collections::BTreeMap;

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
