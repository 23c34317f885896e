//! `user ...`, `session ...` and `audit`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use grid_proto::access::{AuditEntry, SessionView, UserView};
use grid_proto::paths;
use serde_json::json;

use super::emit;
use crate::cli::{AuditArgs, SessionCmd, UserCmd};
use crate::output::{Output, access};
use crate::prompt;
use crate::session::Session;

/// Runs a `user` command.
pub async fn user(cmd: &UserCmd, session: &mut Session, out: &Output) -> Result<()> {
    match cmd {
        UserCmd::List => {
            let v = session.get(paths::USERS).await?;
            emit(out, v, |users: &Vec<UserView>| access::user_table(users))
        }
        UserCmd::Add { name, role } => {
            let password = prompt::new_password(&format!("{name}'s first"), session.scripted())?;
            let body = json!({ "name": name, "role": role, "password": password });
            let v = session.post(paths::USERS, body).await?;
            emit(out, v, |u: &UserView| {
                format!(
                    "added {} ({}); they must change the password at first login\n",
                    u.name, u.role
                )
            })
        }
        UserCmd::Passwd { name } => {
            let me = session.user().unwrap_or_default().to_owned();
            let whose = name.clone().unwrap_or_else(|| me.clone());
            let own = whose == me;
            let label = if own {
                "your".to_owned()
            } else {
                format!("{whose}'s")
            };
            let password = prompt::new_password(&label, session.scripted())?;
            let mut body = json!({ "password": password });
            if own {
                body["current"] = json!(session.password().unwrap_or_default());
            }
            let path = paths::fill(paths::USER_PASSWORD, &[&whose]);
            let v = session.put(&path, body).await?;
            if own {
                session.password_changed(password);
            }
            if out.json {
                out.json(&v);
            } else if own {
                out.text("password changed; your other sessions have ended");
            } else {
                out.text(&format!(
                    "password of {whose} set; they must change it at their next login, and their sessions have ended"
                ));
            }
            Ok(())
        }
        UserCmd::Role { name, role } => {
            let path = paths::fill(paths::USER_ROLE, &[name]);
            let v = session.put(&path, json!({ "role": role })).await?;
            emit(out, v, |u: &UserView| {
                format!("{} is now {}\n", u.name, u.role)
            })
        }
        UserCmd::Remove { name } => {
            let v = session.delete(&paths::fill(paths::USER, &[name])).await?;
            if out.json {
                out.json(&v);
            } else {
                out.text(&format!("removed {name}"));
            }
            Ok(())
        }
    }
}

/// Runs a `session` command.
pub async fn session(cmd: &SessionCmd, session: &mut Session, out: &Output) -> Result<()> {
    match cmd {
        SessionCmd::List => {
            let v = session.get(paths::SESSIONS).await?;
            emit(out, v, |s: &Vec<SessionView>| access::session_table(s))
        }
        SessionCmd::Revoke { id } => {
            let v = session.delete(&paths::fill(paths::SESSION, &[id])).await?;
            if out.json {
                out.json(&v);
            } else {
                out.text(&format!("session {id} ended"));
            }
            Ok(())
        }
    }
}

/// Runs `audit`.
pub async fn audit(args: &AuditArgs, session: &mut Session, out: &Output) -> Result<()> {
    let since = match &args.since {
        Some(t) => since_ms(t, SystemTime::now())?,
        None => 0,
    };
    let path = format!("{}?since={since}&limit={}", paths::AUDIT, args.limit);
    let v = session.get(&path).await?;
    emit(out, v, |e: &Vec<AuditEntry>| access::audit_table(e))
}

/// `--since`: a time (RFC 3339, `T` or a space, `Z` optional) or a span back from `now`.
fn since_ms(t: &str, now: SystemTime) -> Result<u64> {
    let at = match humantime::parse_duration(t) {
        Ok(span) => now
            .checked_sub(span)
            .ok_or_else(|| anyhow!("--since {t} reaches before 1970"))?,
        Err(_) => humantime::parse_rfc3339_weak(t.trim_end_matches('Z')).with_context(|| {
            format!(
                "--since {t}: not a time (2026-12-04T10:00:00Z, 2026-12-04 10:00:00) nor a span (90s, 15m, 2h, 3d)"
            )
        })?,
    };
    let ms = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    Ok(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_times_and_spans() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000);
        assert_eq!(since_ms("15m", now).unwrap(), 9_100_000);
        assert_eq!(since_ms("1970-01-01T01:00:00Z", now).unwrap(), 3_600_000);
        assert_eq!(since_ms("1970-01-01 01:00:00", now).unwrap(), 3_600_000);
        let e = since_ms("yesterday", now).unwrap_err().to_string();
        assert!(e.contains("--since yesterday"), "{e}");
    }
}
