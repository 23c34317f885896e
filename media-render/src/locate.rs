//! Where the MediaServers are: the registry's `locate` of the replica group, or a static list
//! given with `--server`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use grid_proto::api::LocateReply;
use grid_proto::media::ServerRef;
use grid_proto::paths;

/// Locate is one loopback or LAN round trip; a registry slower than this is treated as down and
/// the render keeps the endpoints it holds.
const LOCATE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug)]
enum Source {
    Registry { url: String, group: String },
    Static(Vec<ServerRef>),
    Nowhere,
}

/// Finds the live MediaServers of the group. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Locator {
    http: reqwest::Client,
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
    pub fn new(
        http: reqwest::Client,
        registry: Option<&str>,
        group: &str,
        servers: &[String],
    ) -> Self {
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
            Source::Registry {
                url: url.trim_end_matches('/').to_owned(),
                group: group.to_owned(),
            }
        } else {
            Source::Nowhere
        };
        Self {
            http,
            source: Arc::new(source),
            last: Arc::default(),
        }
    }

    /// The group's live servers, in the registry's order. An error says why none is known.
    pub async fn locate(&self) -> Result<Vec<ServerRef>, String> {
        match &*self.source {
            Source::Static(list) => Ok(list.clone()),
            Source::Nowhere => Err("no registry (--registry or GRID_REGISTRY_URL) and no --server to find a MediaServer".into()),
            Source::Registry { url, group } => match self.ask(url, group).await {
                Ok(list) if !list.is_empty() => {
                    *self.last.lock().unwrap_or_else(PoisonError::into_inner) = list.clone();
                    Ok(list)
                }
                Ok(_) => Err(format!("the registry knows no live server of {group}")),
                Err(e) => {
                    let held = self.last.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    if held.is_empty() {
                        Err(e)
                    } else {
                        Ok(held)
                    }
                }
            },
        }
    }

    async fn ask(&self, url: &str, group: &str) -> Result<Vec<ServerRef>, String> {
        let full = format!("{url}{}", paths::fill(paths::LOCATE, &[group]));
        let resp = self
            .http
            .get(&full)
            .header(grid_proto::PROTOCOL_HEADER, grid_proto::PROTOCOL_VERSION)
            .timeout(LOCATE_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("the registry at {url} is unreachable: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(format!(
                "the registry cannot locate {group} ({}): {}",
                status.as_u16(),
                body.trim()
            ));
        }
        let reply: LocateReply = resp
            .json()
            .await
            .map_err(|e| format!("unreadable locate answer from {url}: {e}"))?;
        Ok(reply
            .endpoints
            .into_iter()
            .map(|e| ServerRef {
                id: e.server,
                endpoint: e.endpoint,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_servers_are_named_by_address() {
        let locator = Locator::new(
            reqwest::Client::new(),
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
        let locator = Locator::new(reqwest::Client::new(), None, "G", &[]);
        let err = locator.locate().await.unwrap_err();
        assert!(err.contains("no registry"), "{err}");
    }
}
