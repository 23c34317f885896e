//! Users and roles on a real grid, driven with gridadmin as each user would: who may do what,
//! forced password changes, sessions that end, and the audit log of it all.

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::Duration;

use grid_proto::access::{AuditEntry, SessionView};
use grid_proto::api::ServerState;
use grid_testkit::app::{App, server};
use grid_testkit::grid::Options;
use grid_testkit::{Grid, wait_until};

/// `gridadmin -u USER -p PASSWORD -e CMD`, with `stdin` fed to it.
fn as_user(grid: &Grid, user: &str, password: &str, cmd: &str, stdin: &str) -> Output {
    let mut child = std::process::Command::new(grid.bin("gridadmin"))
        .args([
            "-u",
            user,
            "-p",
            password,
            "--registry",
            grid.url(),
            "-e",
            cmd,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("gridadmin runs");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("write stdin");
    drop(input);
    child.wait_with_output().expect("gridadmin ends")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    text(&o.stdout)
}

fn refused(o: &Output) -> String {
    assert!(!o.status.success(), "{}", text(&o.stdout));
    text(&o.stderr)
}

#[test]
fn roles_decide_who_may_do_what_and_every_change_is_audited() {
    // The registry's own default account, which must change its password.
    let mut grid = Grid::with(Options {
        admin_password: None,
        ..Options::default()
    });
    grid.start_node("node1");
    let sleeper = server("Sleeper-${index}", "/bin/sh", &["-c", "exec sleep 1000"]);
    let app = App::new("Roles")
        .template("Sleeper", sleeper)
        .instance("node1", "Sleeper", 1)
        .toml();
    grid.deploy(&app);
    grid.wait_active("Sleeper-1", None);

    // A script keeps working on the default password, with a warning.
    let o = as_user(
        &grid,
        "admin",
        "admin",
        "user add vera --role viewer",
        "vera-first-pw\n",
    );
    assert!(ok(&o).contains("added vera (viewer)"));
    assert!(
        text(&o.stderr).contains("warning: user 'admin' still has the password it was given"),
        "{}",
        text(&o.stderr)
    );
    ok(&as_user(
        &grid,
        "admin",
        "admin",
        "user add otto --role operator",
        "otto-first-pw\n",
    ));
    let o = as_user(
        &grid,
        "admin",
        "admin",
        "user add x --role operator",
        "short\n",
    );
    assert!(
        refused(&o).contains("it must be at least 8"),
        "{}",
        text(&o.stderr)
    );
    let o = as_user(&grid, "admin", "admin", "user add vera", "another-pw\n");
    assert!(refused(&o).contains("user 'vera' already exists"));

    // A viewer reads, and cannot stop a server.
    assert!(ok(&as_user(&grid, "vera", "vera-first-pw", "server list", "")).contains("Sleeper-1"));
    let stderr = refused(&as_user(
        &grid,
        "vera",
        "vera-first-pw",
        "server stop Sleeper-1",
        "",
    ));
    assert!(
        stderr.contains(
            "refused: 'vera' is a viewer; POST /v1/servers/Sleeper-1/stop needs the operator role"
        ),
        "{stderr}"
    );
    assert_eq!(
        grid.server("Sleeper-1").map(|s| s.runtime.state),
        Some(ServerState::Active)
    );

    // An operator stops it, and cannot add users.
    let stderr = refused(&as_user(
        &grid,
        "otto",
        "otto-first-pw",
        "user add eve",
        "eve-first-pw\n",
    ));
    assert!(
        stderr.contains("'otto' is an operator; POST /v1/users needs the admin role"),
        "{stderr}"
    );
    ok(&as_user(
        &grid,
        "otto",
        "otto-first-pw",
        "server stop Sleeper-1",
        "",
    ));
    wait_until("Sleeper-1 inactive", Duration::from_secs(30), || {
        (grid.server("Sleeper-1")?.runtime.state == ServerState::Inactive).then_some(())
    });

    // Otto chooses his own password: the old one is gone, the warning too.
    let o = as_user(
        &grid,
        "otto",
        "otto-first-pw",
        "user passwd",
        "otto-own-password\n",
    );
    assert!(ok(&o).contains("password changed"));
    assert!(
        refused(&as_user(&grid, "otto", "otto-first-pw", "server list", ""))
            .contains("wrong user name or password")
    );
    let o = as_user(
        &grid,
        "otto",
        "otto-own-password",
        "server start Sleeper-1",
        "",
    );
    ok(&o);
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
    // Nor may he change someone else's.
    let stderr = refused(&as_user(
        &grid,
        "otto",
        "otto-own-password",
        "user passwd vera",
        "hijacked-pw\n",
    ));
    assert!(
        stderr.contains("may change only their own password"),
        "{stderr}"
    );

    // The last admin stays; roles show in the list.
    let stderr = refused(&as_user(&grid, "admin", "admin", "user remove admin", ""));
    assert!(stderr.contains("'admin' is the last admin"), "{stderr}");
    let stderr = refused(&as_user(
        &grid,
        "admin",
        "admin",
        "user role admin viewer",
        "",
    ));
    assert!(stderr.contains("'admin' is the last admin"), "{stderr}");
    let list = ok(&as_user(&grid, "admin", "admin", "user list", ""));
    for (name, role) in [("admin", "admin"), ("otto", "operator"), ("vera", "viewer")] {
        assert!(
            list.lines()
                .any(|l| l.split_whitespace().take(2).eq([name, role])),
            "{list}"
        );
    }
    ok(&as_user(&grid, "admin", "admin", "user remove vera", ""));
    assert!(
        refused(&as_user(&grid, "vera", "vera-first-pw", "server list", ""))
            .contains("wrong user name or password")
    );

    // Every change asked, allowed or not, is in the audit log with who and the result.
    let o = as_user(&grid, "admin", "admin", "audit --since 1h --json", "");
    let entries: Vec<AuditEntry> = serde_json::from_str(&ok(&o)).expect("audit JSON");
    let find = |user: &str, action: &str, status: u16| {
        entries.iter().any(|e| {
            e.user == user && e.action == action && e.status == status && e.peer == "127.0.0.1"
        })
    };
    assert!(find("admin", "POST /v1/users", 201), "{entries:#?}");
    assert!(
        find("vera", "POST /v1/servers/Sleeper-1/stop", 403),
        "{entries:#?}"
    );
    assert!(
        find("otto", "POST /v1/servers/Sleeper-1/stop", 200),
        "{entries:#?}"
    );
    assert!(
        find("otto", "PUT /v1/users/otto/password", 200),
        "{entries:#?}"
    );
    assert!(find("admin", "DELETE /v1/users/admin", 409), "{entries:#?}");
    let denied = entries
        .iter()
        .find(|e| e.user == "vera" && e.status == 403)
        .expect("vera's refusal");
    assert!(
        denied.result.contains("needs the operator role"),
        "{denied:?}"
    );
    assert!(
        !o.stdout.windows(11).any(|w| w == b"vera-first-"),
        "no password in the log"
    );
    let table = ok(&as_user(&grid, "admin", "admin", "audit", ""));
    assert!(table.contains("DELETE /v1/users/vera"), "{table}");
    let o = as_user(&grid, "admin", "admin", "audit --since yesterday", "");
    assert!(
        refused(&o).contains("--since yesterday"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn sessions_are_listed_revoked_and_end_with_a_password_change() {
    let grid = Grid::new();
    let (admin, other) = grid.block_on(async {
        (
            grid.login().await.expect("login"),
            grid.login().await.expect("login"),
        )
    });
    let list = ok(&grid.admin("session list"));
    // Two from the API here, one from this gridadmin (marked).
    assert_eq!(list.lines().skip(1).count(), 3, "{list}");
    assert_eq!(
        list.lines().filter(|l| l.starts_with('*')).count(),
        1,
        "{list}"
    );
    let list_as = |client: &grid_proto::client::Client| -> Result<Vec<SessionView>, _> {
        grid.block_on(client.get(grid_proto::paths::SESSIONS))
    };
    let theirs = list_as(&other)
        .expect("the list")
        .into_iter()
        .find(|s| s.current)
        .expect("the asker's own session is marked");
    assert!(ok(&grid.admin(&format!("session revoke {}", theirs.id))).contains("ended"));
    assert_eq!(list_as(&other).err().and_then(|e| e.status()), Some(401));
    assert!(list_as(&admin).is_ok(), "only that session ended");
    assert!(refused(&grid.admin("session revoke 0123456789abcdef")).contains("no session"));

    // A password change ends every other session of the user.
    let o = as_user(
        &grid,
        "admin",
        "admin",
        "user passwd",
        "a brand new password\n",
    );
    ok(&o);
    assert_eq!(list_as(&admin).err().and_then(|e| e.status()), Some(401));
}
