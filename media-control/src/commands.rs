//! Each command as calls to the registry, the MediaServers and a render, and what is printed.

use anyhow::Context;
use grid_proto::client::Client;
use grid_proto::ids::TrackId;
use grid_proto::live::ChannelRef;
use grid_proto::media::{RenderStatus, TrackInfo, TrackRef};
use grid_proto::paths;
use serde::Serialize;

use crate::cli::{Command, QueueAction};
use crate::format::{self, RenderRow};
use crate::locate::{Grid, RenderRef};
use crate::output::Output;
use crate::tracks::resolve;

/// Runs one command.
pub async fn run(cmd: &Command, grid: &Grid, out: &Output) -> anyhow::Result<()> {
    match cmd {
        Command::Renders => renders(grid, out).await,
        Command::Library => {
            let tracks = grid.library().await?;
            if out.json {
                out.json(&tracks);
            } else if tracks.is_empty() {
                out.text("the library is empty (make media builds the demo library)");
            } else {
                out.text(&format::tracks_table(&tracks));
            }
            Ok(())
        }
        Command::Load { render, track } => {
            let (id, client) = grid.render(render).await?;
            let track_id = track_id(grid, track).await?;
            let status: RenderStatus = client
                .post(paths::RENDER_LOAD, &TrackRef { track_id })
                .await
                .with_context(|| format!("{id} could not load the track"))?;
            print_status_line(out, &status);
            Ok(())
        }
        Command::IcyDecode { metaint } => {
            let summary = crate::icy_decode::decode(std::io::stdin().lock(), *metaint)?;
            crate::icy_decode::print(&summary, out);
            Ok(())
        }
        Command::Channels => {
            let (server, channels) = grid.channels().await?;
            if out.json {
                out.json(&channels);
            } else if channels.is_empty() {
                out.text(&format!("{server} plays no live channel"));
            } else {
                out.text(&format::channels_table(&channels));
            }
            Ok(())
        }
        Command::Channel { render, name } => {
            let (id, client) = grid.render(render).await?;
            let status: RenderStatus = client
                .post(paths::RENDER_CHANNEL, &ChannelRef { name: name.clone() })
                .await
                .with_context(|| format!("{id} could not join channel {name}"))?;
            print_status_line(out, &status);
            Ok(())
        }
        Command::Play { render } => action(grid, out, render, "play").await,
        Command::Pause { render } => action(grid, out, render, "pause").await,
        Command::Resume { render } => action(grid, out, render, "resume").await,
        Command::Stop { render } => action(grid, out, render, "stop").await,
        Command::Next { render } => action(grid, out, render, "next").await,
        Command::Status { render } => {
            let (id, client) = grid.render(render).await?;
            let status: RenderStatus = client
                .get(paths::RENDER_STATUS)
                .await
                .with_context(|| format!("cannot read the status of {id}"))?;
            if out.json {
                out.json(&status);
            } else {
                out.text(&format::status_block(&status));
            }
            Ok(())
        }
        Command::Queue { render, action } => queue(grid, out, render, action).await,
    }
}

/// The TRACK words as a track id: looked up in the library; an id passes unchecked when no
/// MediaServer can be asked (the render checks it then).
async fn track_id(grid: &Grid, words: &[String]) -> anyhow::Result<String> {
    let query = words.join(" ");
    match grid.library().await {
        Ok(library) => Ok(resolve(&query, &library)?.id.clone()),
        Err(e) => match TrackId::from_input(&query) {
            Ok(id) => Ok(id.into()),
            Err(_) => Err(e.context(format!("cannot look '{query}' up in the library"))),
        },
    }
}

fn print_status_line(out: &Output, status: &RenderStatus) {
    if out.json {
        out.json(status);
    } else {
        out.text(&format::status_line(status));
    }
}

async fn action(grid: &Grid, out: &Output, render: &str, name: &str) -> anyhow::Result<()> {
    let (id, client) = grid.render(render).await?;
    let status: RenderStatus = client
        .post(
            &paths::fill(paths::RENDER_ACTION, &[name]),
            &serde_json::json!({}),
        )
        .await
        .with_context(|| format!("{id} refused {name}"))?;
    print_status_line(out, &status);
    Ok(())
}

async fn queue(
    grid: &Grid,
    out: &Output,
    render: &str,
    action: &QueueAction,
) -> anyhow::Result<()> {
    let (id, client) = grid.render(render).await?;
    let queue: Vec<TrackInfo> = match action {
        QueueAction::List => client.get(paths::RENDER_QUEUE).await,
        QueueAction::Clear => client.delete(paths::RENDER_QUEUE).await,
        QueueAction::Add { track } => {
            let track_id = track_id(grid, track).await?;
            client
                .post(paths::RENDER_QUEUE, &TrackRef { track_id })
                .await
        }
    }
    .with_context(|| format!("{id}'s queue"))?;
    if out.json {
        out.json(&queue);
        return Ok(());
    }
    match action {
        QueueAction::Clear => out.text(&format!("{id}: queue cleared")),
        QueueAction::Add { .. } => {
            let added = queue.last().map(format::track_label).unwrap_or_default();
            out.text(&format!(
                "{id}: queued {added}; {} track(s) in the queue",
                queue.len()
            ));
        }
        QueueAction::List if queue.is_empty() => out.text(&format!("{id}: the queue is empty")),
        QueueAction::List => out.text(&format::tracks_table(&queue)),
    }
    Ok(())
}

/// What `renders --json` prints for each render.
#[derive(Debug, Serialize)]
struct RenderJson {
    id: String,
    node: String,
    endpoint: Option<String>,
    status: Option<RenderStatus>,
    error: Option<String>,
}

async fn renders(grid: &Grid, out: &Output) -> anyhow::Result<()> {
    let renders = grid.renders().await?;
    // Every render at once: a hung one costs its timeout once, not once per render.
    let statuses = futures_util::future::join_all(renders.iter().map(status_of)).await;
    if out.json {
        let list: Vec<RenderJson> = renders
            .into_iter()
            .zip(statuses)
            .map(|(r, s)| {
                let (status, error) = match s {
                    Ok(s) => (s, None),
                    Err(e) => (None, Some(e)),
                };
                RenderJson {
                    id: r.id,
                    node: r.node,
                    endpoint: r.endpoint,
                    status,
                    error,
                }
            })
            .collect();
        out.json(&list);
        return Ok(());
    }
    if renders.is_empty() {
        out.text("no renders deployed");
        return Ok(());
    }
    let rows: Vec<RenderRow> = renders
        .into_iter()
        .zip(statuses)
        .map(|(render, s)| {
            let state = match s {
                Ok(None) => "not running".to_owned(),
                Ok(Some(s)) => match (&s.track, &s.channel) {
                    (Some(t), _) => {
                        format!("{} {} - {}", s.state.as_str(), t.artist, t.title)
                    }
                    (None, Some(c)) => format!(
                        "{} channel {}: {}",
                        s.state.as_str(),
                        c.name,
                        if c.title.is_empty() { "-" } else { &c.title }
                    ),
                    (None, None) => s.state.as_str().to_owned(),
                },
                Err(e) => format!("unreachable ({e})"),
            };
            RenderRow { render, state }
        })
        .collect();
    out.text(&format::renders_table(&rows));
    Ok(())
}

/// A render's status; `None` when it has no endpoint (not running).
async fn status_of(r: &RenderRef) -> Result<Option<RenderStatus>, String> {
    let Some(ep) = &r.endpoint else {
        return Ok(None);
    };
    let timeout = std::time::Duration::from_secs(3);
    let client = Client::with_timeout(ep, &format!("render {}", r.id), timeout)
        .map_err(|e| e.to_string())?;
    client
        .get(paths::RENDER_STATUS)
        .await
        .map(Some)
        .map_err(|e| e.to_string())
}
