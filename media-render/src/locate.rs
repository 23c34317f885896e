//! Where the MediaServers are: the registry's `locate` of the replica group, or a static list
//! given with `--server`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use grid_proto::client::{Client, ClientError};
use grid_proto::media::ServerRef;

/// Locate is one loopback or LAN round trip; a registry slower than this is treated as down and
/// the render keeps the endpoints it holds.
const LOCATE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug)]
enum Source {
    Registry {
        registry: Client,
        group: String,
    },
    Static(Vec<ServerRef>),
    /// No registry and no `--server`, or a registry URL no client can be made for: why.
    Nowhere(String),
}

/// Finds the live MediaServers of the group. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Locator {
    source: Arc<Source>,
    /// The last list the registry gave: used while the registry is down, which is not in the
    /// data path.
    last: Arc<Mutex<Vec<ServerRef>>>,
}

/// The id shown for a `--server` endpoint, which has no grid identity: its address.
fn static_id(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.trim_end_matches('/').to_owned()
}

impl Locator {
    /// Static endpoints win over the registry; with neither, every locate fails clearly.
    pub fn new(registry: Option<&str>, group: &str, servers: &[String]) -> Self {
        let source = if !servers.is_empty() {
            Source::Static(
                servers
                    .iter()
                    .map(|s| ServerRef {
                        id: static_id(s),
                        endpoint: s.trim_end_matches('/').to_owned(),
                    })
                    .collect(),
            )
        } else if let Some(url) = registry {
            match Client::with_timeout(url, "registry", LOCATE_TIMEOUT) {
                Ok(registry) => Source::Registry {
                    registry,
                    group: group.to_owned(),
                },
                Err(e) => Source::Nowhere(format!("the registry cannot be asked: {e}")),
            }
        } else {
            Source::Nowhere(
                "no registry (--registry or GRID_REGISTRY_URL) and no --server to find a MediaServer"
                    .into(),
            )
        };
        Self {
            source: Arc::new(source),
            last: Arc::default(),
        }
    }

    /// The group's live servers, in the registry's order. An error says why none is known.
    pub async fn locate(&self) -> Result<Vec<ServerRef>, String> {
        match &*self.source {
            Source::Static(list) => Ok(list.clone()),
            Source::Nowhere(why) => Err(why.clone()),
            Source::Registry { registry, group } => match ask(registry, group).await {
                Ok(list) if !list.is_empty() => {
                    *self.last.lock().unwrap_or_else(PoisonError::into_inner) = list.clone();
                    Ok(list)
                }
                Ok(_) => Err(format!("the registry knows no live server of {group}")),
                Err(e) => {
                    let held = self
                        .last
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .clone();
                    if held.is_empty() { Err(e) } else { Ok(held) }
                }
            },
        }
    }
}

async fn ask(registry: &Client, group: &str) -> Result<Vec<ServerRef>, String> {
    let reply = registry.locate(group).await.map_err(|e| match e {
        ClientError::Api {
            status, message, ..
        } => format!("the registry cannot locate {group} ({status}): {message}"),
        e => e.to_string(),
    })?;
    Ok(reply
        .endpoints
        .into_iter()
        .map(|e| ServerRef {
            id: e.server,
            endpoint: e.endpoint,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_servers_are_named_by_address() {
        let locator = Locator::new(
            Some("http://127.0.0.1:1"),
            "G",
            &["http://127.0.0.1:4100/".into()],
        );
        let list = locator.locate().await.unwrap();
        assert_eq!(
            list,
            vec![ServerRef {
                id: "127.0.0.1:4100".into(),
                endpoint: "http://127.0.0.1:4100".into()
            }]
        );
    }

    #[tokio::test]
    async fn without_a_registry_locate_says_so() {
        let locator = Locator::new(None, "G", &[]);
        let err = locator.locate().await.unwrap_err();
        assert!(err.contains("no registry"), "{err}");
    }
}
