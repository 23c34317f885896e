//! `server list | state | pid | start | stop | restart | enable | disable | signal | describe | log`.

use std::time::Duration;

use anyhow::{Result, bail};
use grid_proto::api::{LogReply, ServerDetail, ServerView};
use grid_proto::client::ClientError;
use grid_proto::paths;
use serde_json::json;

use super::{decode, emit};
use crate::cli::{LogArgs, ServerCmd};
use crate::output::{Output, views};
use crate::session::Session;

/// How often `server log --follow` asks for more.
const FOLLOW_EVERY: Duration = Duration::from_millis(250);

/// Runs a `server` command.
pub async fn run(cmd: &ServerCmd, session: &mut Session, out: &Output) -> Result<()> {
    match cmd {
        ServerCmd::List => {
            let v = session.get(paths::SERVERS).await?;
            emit(out, v, |s: &Vec<ServerView>| views::server_table(s))
        }
        ServerCmd::State { id } => {
            let v = session.get(&paths::fill(paths::SERVER, &[id])).await?;
            emit(out, v, |d: &ServerDetail| views::state_line(&d.view))
        }
        ServerCmd::Pid { id } => {
            let v = session.get(&paths::fill(paths::SERVER, &[id])).await?;
            let detail: ServerDetail = decode(v)?;
            match detail.view.runtime.pid {
                Some(pid) if views::is_running(detail.view.runtime.state) => {
                    out.text(&pid.to_string());
                    Ok(())
                }
                _ => bail!(
                    "server '{id}' is not running ({})",
                    detail.view.runtime.state
                ),
            }
        }
        ServerCmd::Start { id } => action(session, out, id, "start", json!({})).await,
        ServerCmd::Stop { id } => action(session, out, id, "stop", json!({})).await,
        ServerCmd::Restart { id } => action(session, out, id, "restart", json!({})).await,
        ServerCmd::Enable { id } => action(session, out, id, "enable", json!({})).await,
        ServerCmd::Disable { id } => action(session, out, id, "disable", json!({})).await,
        ServerCmd::Signal { id, signal } => {
            action(session, out, id, "signal", json!({ "signal": signal })).await
        }
        ServerCmd::Describe { id } => {
            let v = session.get(&paths::fill(paths::SERVER, &[id])).await?;
            emit(out, v, |d: &ServerDetail| views::server_describe(d))
        }
        ServerCmd::Log(args) => log(session, out, args).await,
    }
}

/// `POST /v1/servers/{id}/{action}` → the server's resulting state.
async fn action(
    session: &mut Session,
    out: &Output,
    id: &str,
    action: &str,
    body: serde_json::Value,
) -> Result<()> {
    let path = paths::fill(paths::SERVER_ACTION, &[id, action]);
    let v = session.post(&path, body).await?;
    emit(out, v, |s: &ServerView| views::state_line(s))
}

/// The log query string.
fn log_path(args: &LogArgs, offset: Option<u64>) -> String {
    let mut path = format!(
        "{}?stderr={}",
        paths::fill(paths::SERVER_LOG, &[&args.id]),
        args.stderr
    );
    if let Some(offset) = offset {
        path.push_str(&format!("&offset={offset}"));
    } else if let Some(tail) = args.tail {
        path.push_str(&format!("&tail={tail}"));
    }
    path
}

/// Prints one log reply and returns where the next read starts.
fn print_log(out: &Output, value: serde_json::Value) -> Result<u64> {
    let reply: LogReply = decode(value.clone())?;
    if out.json {
        out.json(&value);
    } else {
        out.raw(&reply.text);
    }
    Ok(reply.size)
}

/// `server log`, and with `--follow` a poll for new text until Ctrl-C.
async fn log(session: &mut Session, out: &Output, args: &LogArgs) -> Result<()> {
    let first = session.get(&log_path(args, None)).await?;
    let mut offset = print_log(out, first)?;
    if !args.follow {
        return Ok(());
    }
    let follow = async {
        loop {
            tokio::time::sleep(FOLLOW_EVERY).await;
            match session.get(&log_path(args, Some(offset))).await {
                Ok(v) => {
                    let reply: LogReply = decode(v.clone())?;
                    if reply.size < offset {
                        // Rotated: start again at the top of the new file.
                        offset = 0;
                        continue;
                    }
                    if !reply.text.is_empty() {
                        print_log(out, v)?;
                    }
                    offset = reply.size;
                }
                // The registry or the node restarting is no reason to stop following.
                Err(e)
                    if e.downcast_ref::<ClientError>()
                        .is_some_and(|c| c.is_unreachable() || c.status() == Some(503)) => {}
                Err(e) => return Err(e),
            }
        }
    };
    tokio::select! {
        r = follow => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_queries() {
        let mut args = LogArgs {
            id: "MediaServer-1".into(),
            tail: Some(20),
            follow: true,
            stderr: false,
        };
        assert_eq!(
            log_path(&args, None),
            "/v1/servers/MediaServer-1/log?stderr=false&tail=20"
        );
        assert_eq!(
            log_path(&args, Some(512)),
            "/v1/servers/MediaServer-1/log?stderr=false&offset=512"
        );
        args.stderr = true;
        args.tail = None;
        assert_eq!(
            log_path(&args, None),
            "/v1/servers/MediaServer-1/log?stderr=true"
        );
    }
}
