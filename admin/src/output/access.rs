//! Users, sessions and the audit log, for people.

use grid_proto::access::{AuditEntry, SessionView, UserView};

use super::{table_of, time_ms};

/// `user list`.
pub fn user_table(users: &[UserView]) -> String {
    table_of(&["USER", "ROLE", "SESSIONS", "PASSWORD"], users, |u| {
        vec![
            u.name.clone(),
            u.role.to_string(),
            u.sessions.to_string(),
            if u.must_change_password {
                "must change".into()
            } else {
                "set".into()
            },
        ]
    })
}

/// `session list`; `*` marks the asker's own.
pub fn session_table(sessions: &[SessionView]) -> String {
    table_of(
        &["", "ID", "USER", "FROM", "OPENED", "EXPIRES"],
        sessions,
        |s| {
            vec![
                if s.current { "*" } else { "" }.into(),
                s.id.clone(),
                s.user.clone(),
                s.peer.clone(),
                time_ms(s.created_ms),
                time_ms(s.expires_ms),
            ]
        },
    )
}

/// `audit`: one line per entry, oldest first.
pub fn audit_table(entries: &[AuditEntry]) -> String {
    if entries.is_empty() {
        return "no entries\n".into();
    }
    table_of(
        &["TIME", "USER", "FROM", "STATUS", "ACTION", "RESULT"],
        entries,
        |e| {
            vec![
                time_ms(e.at_ms),
                e.user.clone(),
                e.peer.clone(),
                e.status.to_string(),
                printable(&e.action),
                printable(&e.result),
            ]
        },
    )
}

/// `text` with control characters shown as escapes: what a client put in a path must not
/// drive the admin's terminal.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use grid_proto::access::Role;

    #[test]
    fn tables_show_what_matters() {
        let users = user_table(&[UserView {
            name: "alice".into(),
            role: Role::Operator,
            must_change_password: true,
            sessions: 2,
        }]);
        assert!(
            users.contains("alice") && users.contains("operator"),
            "{users}"
        );
        assert!(users.contains("must change"), "{users}");
        let audit = audit_table(&[AuditEntry {
            seq: 1,
            at_ms: 1_000,
            user: "alice".into(),
            peer: "10.0.0.1".into(),
            action: "POST /v1/servers/S/stop".into(),
            status: 403,
            result: "refused".into(),
        }]);
        assert!(audit.contains("1970-01-01 00:00:01 UTC"), "{audit}");
        assert!(
            audit.contains("POST /v1/servers/S/stop") && audit.contains("403"),
            "{audit}"
        );
        assert_eq!(audit_table(&[]), "no entries\n");
        assert_eq!(printable("a\u{1b}]0;x\u{7}b"), "a\\u{1b}]0;x\\u{7}b");
    }
}
