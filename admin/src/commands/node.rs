//! `node list | show | describe | load | ping | shutdown`.

use anyhow::Result;
use grid_proto::api::{NodeStatus, NodeView, ServerView};
use grid_proto::paths;
use serde_json::json;

use super::{decode, emit};
use crate::cli::NodeCmd;
use crate::output::{Output, views};
use crate::session::Session;

/// Runs a `node` command.
pub async fn run(cmd: &NodeCmd, session: &mut Session, out: &Output) -> Result<()> {
    match cmd {
        NodeCmd::List { long } => {
            let v = session.get(paths::NODES).await?;
            emit(out, v, |nodes: &Vec<NodeView>| {
                if *long {
                    views::node_table(nodes)
                } else {
                    nodes.iter().map(|n| format!("{}\n", n.name)).collect()
                }
            })
        }
        NodeCmd::Show { name } => {
            let v = session.get(&paths::fill(paths::NODE, &[name])).await?;
            emit(out, v, |n: &NodeView| views::node_show(n, None))
        }
        NodeCmd::Describe { name } => {
            let v = session.get(&paths::fill(paths::NODE, &[name])).await?;
            if out.json {
                out.json(&v);
                return Ok(());
            }
            let node: NodeView = decode(v)?;
            let servers: Vec<ServerView> = decode(session.get(paths::SERVERS).await?)?;
            out.text(&views::node_show(&node, Some(&servers)));
            Ok(())
        }
        NodeCmd::Load { name } => {
            let v = session.get(&paths::fill(paths::NODE, &[name])).await?;
            emit(out, v, |n: &NodeView| views::load_line(n))
        }
        NodeCmd::Ping { name } => {
            let path = paths::fill(paths::NODE_ACTION, &[name, "ping"]);
            let v = session.post(&path, json!({})).await?;
            emit(out, v, |s: &NodeStatus| views::ping_line(s))
        }
        NodeCmd::Shutdown { name } => {
            let path = paths::fill(paths::NODE_ACTION, &[name, "shutdown"]);
            let v = session.post(&path, json!({})).await?;
            if out.json {
                out.json(&v);
            } else {
                out.text(&format!("node {name} is shutting down"));
            }
            Ok(())
        }
    }
}
