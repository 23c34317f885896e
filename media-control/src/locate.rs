//! Finding things through the registry: the renders (adapters of the MediaRender servers) and the
//! MediaServers of `MediaServerGroup`, whose library is the same on every replica.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use grid_proto::api::{AdapterView, LocatedEndpoint, LoginReply, LoginRequest};
use grid_proto::client::Client;
use grid_proto::live::ChannelStats;
use grid_proto::media::{SERVER_GROUP, TrackInfo};
use grid_proto::paths;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

/// The name every server gives its adapter.
const ADAPTER_SUFFIX: &str = ".Adapter";

/// How long the registry and a MediaServer get to answer.
const QUICK: Duration = Duration::from_secs(5);

/// How long a render gets: `load` locates a MediaServer and opens a stream before it answers.
const RENDER_TIMEOUT: Duration = Duration::from_secs(20);

/// A render as the registry knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderRef {
    /// Its server id (`MediaRender-1`).
    pub id: String,
    /// Its node.
    pub node: String,
    /// Its endpoint, while it is active.
    pub endpoint: Option<String>,
}

/// The registry, and what can be found through it.
#[derive(Clone)]
pub struct Grid {
    registry: Client,
    /// User and password to drive renders with; logged in at the first render asked for.
    credentials: Option<(String, String)>,
    /// The session opened with them, and when.
    session: Arc<Mutex<Option<(String, Instant)>>>,
}

impl std::fmt::Debug for Grid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grid")
            .field("registry", &self.registry.base())
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .finish_non_exhaustive()
    }
}

/// A session older than this is renewed before it is used (the registry's last an hour).
const SESSION_RENEW: Duration = Duration::from_secs(50 * 60);

/// True for the adapter of a render. The registry does not know what a server is; the
/// application's naming does (`MediaRender-N.Adapter`, outside any replica group).
fn is_render(a: &AdapterView) -> bool {
    a.replica_group.is_none()
        && a.id == format!("{}{ADAPTER_SUFFIX}", a.server)
        && a.server.to_ascii_lowercase().contains("render")
}

impl Grid {
    /// The grid whose registry is at `url`; renders are driven as the user of `credentials`
    /// (a render started by a node refuses changes without an operator's session).
    pub fn new(url: &str, credentials: Option<(String, String)>) -> anyhow::Result<Self> {
        let registry = Client::with_timeout(url, "registry", QUICK)
            .map_err(|e| anyhow!("bad --registry: {e}"))?;
        Ok(Self {
            registry,
            credentials,
            session: Arc::default(),
        })
    }

    /// Were a user and password given?
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// The session token to drive renders with: none without credentials.
    async fn session(&self) -> anyhow::Result<Option<String>> {
        let Some((user, password)) = &self.credentials else {
            return Ok(None);
        };
        let mut session = self.session.lock().await;
        if let Some((token, at)) = session.as_ref()
            && at.elapsed() < SESSION_RENEW
        {
            return Ok(Some(token.clone()));
        }
        let body = LoginRequest {
            user: user.clone(),
            password: password.clone(),
        };
        let reply: LoginReply = self
            .registry
            .post(paths::SESSIONS, &body)
            .await
            .with_context(|| format!("cannot log in to the registry as {user}"))?;
        *session = Some((reply.token.clone(), Instant::now()));
        Ok(Some(reply.token))
    }

    /// The registry's URL.
    pub fn url(&self) -> &str {
        self.registry.base()
    }

    /// The renders, sorted by id.
    pub async fn renders(&self) -> anyhow::Result<Vec<RenderRef>> {
        let adapters: Vec<AdapterView> = self
            .registry
            .get(paths::ADAPTERS)
            .await
            .context("cannot list the renders")?;
        let mut renders: Vec<RenderRef> = adapters
            .into_iter()
            .filter(is_render)
            .map(|a| RenderRef {
                id: a.server,
                node: a.node,
                endpoint: a.endpoint,
            })
            .collect();
        renders.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(renders)
    }

    /// A client for the render `name` (`MediaRender-1`, any case, `.Adapter` optional).
    pub async fn render(&self, name: &str) -> anyhow::Result<(String, Client)> {
        let name = name.strip_suffix(ADAPTER_SUFFIX).unwrap_or(name);
        let mut id = name.to_owned();
        let reply = match self.registry.locate(&format!("{id}{ADAPTER_SUFFIX}")).await {
            Ok(reply) => reply,
            Err(e) if e.status() == Some(404) => {
                // Not that exact name: the listing says whether it is one in another case.
                let renders = self.renders().await?;
                let Some(r) = renders.iter().find(|r| r.id.eq_ignore_ascii_case(name)) else {
                    let known: Vec<&str> = renders.iter().map(|r| r.id.as_str()).collect();
                    let known = if known.is_empty() {
                        "none deployed".to_owned()
                    } else {
                        known.join(", ")
                    };
                    bail!("no render named {name} (renders: {known})");
                };
                id.clone_from(&r.id);
                self.registry
                    .locate(&format!("{id}{ADAPTER_SUFFIX}"))
                    .await
                    .with_context(|| format!("cannot locate render {id}"))?
            }
            Err(e) => return Err(anyhow!(e).context(format!("cannot locate render {name}"))),
        };
        let Some(ep) = reply.endpoints.first() else {
            bail!("render {id} is not running (the registry has no live endpoint for it)");
        };
        let mut client =
            Client::with_timeout(&ep.endpoint, &format!("render {id}"), RENDER_TIMEOUT)
                .map_err(|e| anyhow!("render {id} has a bad endpoint: {e}"))?;
        if let Some(token) = self.session().await? {
            client = client
                .bearer(&token)
                .map_err(|e| anyhow!("the session token cannot be sent: {e}"))?;
        }
        Ok((id, client))
    }

    /// The live MediaServers, in the group's order.
    pub async fn servers(&self) -> anyhow::Result<Vec<LocatedEndpoint>> {
        let reply = self
            .registry
            .locate(SERVER_GROUP)
            .await
            .with_context(|| format!("cannot locate {SERVER_GROUP}"))?;
        if reply.endpoints.is_empty() {
            bail!("no MediaServer is running ({SERVER_GROUP} has no live endpoint)");
        }
        Ok(reply.endpoints)
    }

    /// The library, from the first MediaServer that answers.
    pub async fn library(&self) -> anyhow::Result<Vec<TrackInfo>> {
        let (_, tracks) = self
            .first_answer(paths::MEDIA_TRACKS, "gave its library")
            .await?;
        Ok(tracks)
    }

    /// The live channels, from the first MediaServer that answers, with its id.
    pub async fn channels(&self) -> anyhow::Result<(String, Vec<ChannelStats>)> {
        self.first_answer(paths::CHANNELS, "listed its channels")
            .await
    }

    /// `GET path` of the MediaServers in the group's order, until one answers: its id and
    /// answer; every failure when none does (`no MediaServer {did}: …`).
    async fn first_answer<T: DeserializeOwned>(
        &self,
        path: &str,
        did: &str,
    ) -> anyhow::Result<(String, T)> {
        let mut failures = Vec::new();
        for ep in self.servers().await? {
            let what = format!("MediaServer {}", ep.server);
            let result = match Client::with_timeout(&ep.endpoint, &what, QUICK) {
                Ok(c) => c.get::<T>(path).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(answer) => return Ok((ep.server, answer)),
                Err(e) => failures.push(e.to_string()),
            }
        }
        bail!("no MediaServer {did}: {}", failures.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter(id: &str, server: &str, group: Option<&str>) -> AdapterView {
        AdapterView {
            id: id.into(),
            server: server.into(),
            node: "node1".into(),
            replica_group: group.map(Into::into),
            endpoint: None,
        }
    }

    #[test]
    fn renders_are_the_render_adapters() {
        assert!(is_render(&adapter(
            "MediaRender-1.Adapter",
            "MediaRender-1",
            None
        )));
        assert!(!is_render(&adapter(
            "MediaServer-1.Adapter",
            "MediaServer-1",
            Some(SERVER_GROUP)
        )));
        assert!(!is_render(&adapter("Other.Adapter", "MediaRender-1", None)));
    }

    #[test]
    fn a_bad_registry_url_is_an_error() {
        let err = Grid::new("ftp://x", None).unwrap_err();
        assert!(err.to_string().contains("bad --registry"), "{err}");
    }
}
