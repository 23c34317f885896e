//! `channel list | show`: the live channels of every MediaServer of [`SERVER_GROUP`]. The
//! registry locates the group; each MediaServer is then asked for its stats (`GET /v1/channels`),
//! all at once, so one that does not answer costs its timeout once and is one line of the output.

use std::time::Duration;

use anyhow::{Result, bail};
use grid_proto::api::LocatedEndpoint;
use grid_proto::client::{Client, ClientError};
use grid_proto::live::ChannelStats;
use grid_proto::media::SERVER_GROUP;
use grid_proto::paths;
use serde_json::{Value, json};

use crate::cli::ChannelCmd;
use crate::output::views::{ServerChannel, ServerChannels};
use crate::output::{Output, views};
use crate::session::Session;

/// How long a MediaServer gets to answer.
const TIMEOUT: Duration = Duration::from_secs(3);

/// Runs a `channel` command.
pub async fn run(cmd: &ChannelCmd, session: &mut Session, out: &Output) -> Result<()> {
    let servers = located(session).await?;
    match cmd {
        ChannelCmd::List => list(out, &servers).await,
        ChannelCmd::Show { name, server } => {
            let servers = match server {
                None => servers,
                Some(id) => {
                    let Some(s) = servers.iter().find(|s| s.server == *id) else {
                        bail!(
                            "{id} is not a live MediaServer of {SERVER_GROUP} (live: {})",
                            ids(&servers)
                        );
                    };
                    vec![s.clone()]
                }
            };
            show(out, name, &servers).await
        }
    }
}

fn ids(servers: &[LocatedEndpoint]) -> String {
    let ids: Vec<&str> = servers.iter().map(|s| s.server.as_str()).collect();
    ids.join(", ")
}

/// The live MediaServers, from the registry; an error when there are none.
async fn located(session: &mut Session) -> Result<Vec<LocatedEndpoint>> {
    let reply = session.locate(SERVER_GROUP).await?;
    if reply.endpoints.is_empty() {
        bail!("no MediaServer is running ({SERVER_GROUP} has no live endpoint)");
    }
    Ok(reply.endpoints)
}

/// `GET path` on every server at once, in their order.
async fn ask_all(servers: &[LocatedEndpoint], path: &str) -> Vec<Result<Value, ClientError>> {
    let mut set = tokio::task::JoinSet::new();
    for (i, s) in servers.iter().enumerate() {
        let (endpoint, what, path) = (
            s.endpoint.clone(),
            format!("MediaServer {}", s.server),
            path.to_owned(),
        );
        set.spawn(async move {
            let r = match Client::with_timeout(&endpoint, &what, TIMEOUT) {
                Ok(c) => c.get::<Value>(&path).await,
                Err(e) => Err(e),
            };
            (i, r)
        });
    }
    let mut results: Vec<Option<Result<Value, ClientError>>> = std::iter::repeat_with(|| None)
        .take(servers.len())
        .collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            results[i] = Some(r);
        }
    }
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(ClientError::Usage("the request was lost".into()))))
        .collect()
}

fn read<T: serde::de::DeserializeOwned>(server: &str, v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("{server} answered something unreadable: {e}"))
}

/// `--json`: each server with its answer under `key`, or the error it gave instead.
fn answers_json(
    servers: &[LocatedEndpoint],
    answers: impl IntoIterator<Item = Result<Value, ClientError>>,
    key: &str,
) -> Vec<Value> {
    servers
        .iter()
        .zip(answers)
        .map(|(s, r)| {
            let (key, value) = match r {
                Ok(v) => (key, v),
                Err(e) => ("error", json!(e.to_string())),
            };
            json!({"server": s.server, "endpoint": s.endpoint, key: value})
        })
        .collect()
}

async fn list(out: &Output, servers: &[LocatedEndpoint]) -> Result<()> {
    let answers = ask_all(servers, paths::CHANNELS).await;
    if out.json {
        out.json(&answers_json(servers, answers, "channels"));
        return Ok(());
    }
    let rows: Vec<ServerChannels> = servers
        .iter()
        .zip(answers)
        .map(|(s, r)| ServerChannels {
            server: s.server.clone(),
            channels: r
                .map_err(|e| e.to_string())
                .and_then(|v| read::<Vec<ChannelStats>>(&s.server, v)),
        })
        .collect();
    out.text(&views::channel_table(&rows));
    Ok(())
}

async fn show(out: &Output, name: &str, servers: &[LocatedEndpoint]) -> Result<()> {
    let answers = ask_all(servers, &paths::fill(paths::CHANNEL, &[name])).await;
    let rows: Vec<ServerChannel> = servers
        .iter()
        .zip(&answers)
        .map(|(s, r)| ServerChannel {
            server: s.server.clone(),
            channel: match r {
                Ok(v) => read::<ChannelStats>(&s.server, v.clone()).map(Some),
                Err(e) if e.status() == Some(404) => Ok(None),
                Err(e) => Err(e.to_string()),
            },
        })
        .collect();
    if !rows.iter().any(|r| matches!(r.channel, Ok(Some(_)))) {
        let answered = rows.iter().any(|r| r.channel.is_ok());
        if answered {
            bail!(
                "no channel named '{name}' on {}",
                if servers.len() == 1 {
                    servers[0].server.clone()
                } else {
                    format!("any MediaServer of {SERVER_GROUP}")
                }
            );
        }
        let why: Vec<String> = rows
            .iter()
            .filter_map(|r| r.channel.as_ref().err().cloned())
            .collect();
        bail!("no MediaServer answered: {}", why.join("; "));
    }
    if out.json {
        // A server without the channel answers it as null.
        let answers = answers.into_iter().map(|r| match r {
            Err(e) if e.status() == Some(404) => Ok(Value::Null),
            other => other,
        });
        out.json(&answers_json(servers, answers, "channel"));
        return Ok(());
    }
    out.text(&views::channel_show(name, &rows));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_answers_name_each_server_with_its_answer_or_error() {
        let server = |id: &str| LocatedEndpoint {
            adapter: "MediaServerAdapter".into(),
            server: id.into(),
            endpoint: format!("http://{id}"),
        };
        let answers = [Ok(json!([])), Err(ClientError::Usage("refused".into()))];
        assert_eq!(
            answers_json(&[server("a"), server("b")], answers, "channels"),
            [
                json!({"server": "a", "endpoint": "http://a", "channels": []}),
                json!({"server": "b", "endpoint": "http://b", "error": "refused"}),
            ]
        );
    }
}
