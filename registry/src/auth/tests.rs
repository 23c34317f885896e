use std::net::{IpAddr, Ipv4Addr};

use grid_proto::access::{PasswordChange, Role, UserAdd};

use super::*;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

async fn fresh() -> (tempfile::TempDir, Auth) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, Auth::open(store).await.unwrap())
}

fn add(name: &str, role: Role) -> UserAdd {
    UserAdd {
        name: name.into(),
        role,
        password: format!("{name}-first-pw"),
    }
}

fn change(current: Option<&str>, password: &str) -> PasswordChange {
    PasswordChange {
        current: current.map(Into::into),
        password: password.into(),
    }
}

#[tokio::test]
async fn login_checks_the_hash_and_the_default_password_must_change() {
    let (_dir, auth) = fresh().await;
    let stored = auth.read_users().get("admin").unwrap().hash.clone();
    assert!(stored.starts_with("$argon2"), "{stored}");
    let opened = auth.login("admin", "admin", LOCAL).await.unwrap();
    assert!(opened.must_change_password);
    let caller = auth.caller(&opened.token).unwrap();
    assert_eq!((caller.user.as_str(), caller.role), ("admin", Role::Admin));
    // Cached path.
    auth.login("admin", "admin", LOCAL).await.unwrap();
    assert!(matches!(
        auth.login("admin", "wrong", LOCAL).await,
        Err(AuthError::Denied)
    ));
    assert!(matches!(
        auth.login("nobody", "admin", LOCAL).await,
        Err(AuthError::Denied)
    ));
    assert!(auth.caller("nope").is_none());
    // The database holds the token's hash, never the token.
    let hashes: Vec<String> = auth
        .store
        .sessions()
        .unwrap()
        .into_iter()
        .map(|s| s.0)
        .collect();
    assert!(hashes.contains(&token_hash(&opened.token)));
    assert!(!hashes.contains(&opened.token));
}

#[tokio::test]
async fn sessions_survive_a_restart_and_logout_ends_them() {
    let dir = tempfile::tempdir().unwrap();
    let token = {
        let auth = Auth::open(Store::open(dir.path()).unwrap()).await.unwrap();
        auth.login("admin", "admin", LOCAL).await.unwrap().token
    };
    let store = loop {
        // sled's flusher lets go of the lock shortly after the drop.
        match Store::open(dir.path()) {
            Ok(s) => break s,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let auth = Auth::open(store).await.unwrap();
    assert!(auth.caller(&token).is_some());
    auth.logout(&token).await.unwrap();
    assert!(auth.caller(&token).is_none());
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_clears_the_forced_change() {
    let (_dir, auth) = fresh().await;
    let here = auth.login("admin", "admin", LOCAL).await.unwrap().token;
    let there = auth.login("admin", "admin", LOCAL).await.unwrap().token;
    let me = auth.caller(&here).unwrap();
    assert!(matches!(
        auth.set_password(&me, LOCAL, "admin", &change(None, "new password 1")).await,
        Err(UserError::Invalid(m)) if m.contains("current")
    ));
    assert!(matches!(
        auth.set_password(&me, LOCAL, "admin", &change(Some("bad"), "new password 1"))
            .await,
        Err(UserError::WrongPassword)
    ));
    assert!(matches!(
        auth.set_password(&me, LOCAL, "admin", &change(Some("admin"), "short")).await,
        Err(UserError::Invalid(m)) if m.contains("at least 8")
    ));
    auth.set_password(
        &me,
        LOCAL,
        "admin",
        &change(Some("admin"), "new password 1"),
    )
    .await
    .unwrap();
    assert!(auth.caller(&here).is_some(), "the asker's session stays");
    assert!(auth.caller(&there).is_none(), "the others end");
    assert!(matches!(
        auth.login("admin", "admin", LOCAL).await,
        Err(AuthError::Denied)
    ));
    let again = auth.login("admin", "new password 1", LOCAL).await.unwrap();
    assert!(!again.must_change_password);
}

#[tokio::test]
async fn roles_rule_who_may_change_whom_and_the_last_admin_stays() {
    let (_dir, auth) = fresh().await;
    let admin_token = auth.login("admin", "admin", LOCAL).await.unwrap().token;
    let admin = auth.caller(&admin_token).unwrap();
    let bob = auth
        .add_user(&add("bob", Role::Viewer), "admin")
        .await
        .unwrap();
    assert!(bob.must_change_password);
    assert!(matches!(
        auth.add_user(&add("bob", Role::Admin), "admin").await,
        Err(UserError::Exists(_))
    ));
    assert!(matches!(
        auth.add_user(&add("no space", Role::Admin), "admin").await,
        Err(UserError::Invalid(_))
    ));
    let bob_token = auth.login("bob", "bob-first-pw", LOCAL).await.unwrap();
    assert!(bob_token.must_change_password);
    let bob = auth.caller(&bob_token.token).unwrap();
    assert_eq!(bob.role, Role::Viewer);
    assert!(matches!(
        auth.set_password(&bob, LOCAL, "admin", &change(None, "taken over")).await,
        Err(UserError::NotYours(m)) if m.contains("a viewer")
    ));
    // A viewer sees only their own sessions and cannot end an admin's.
    assert_eq!(auth.list_sessions(&bob).len(), 1);
    assert_eq!(auth.list_sessions(&admin).len(), 2);
    let admins_id = public_id(&admin.session).to_owned();
    assert!(matches!(
        auth.revoke_session(&bob, &admins_id).await,
        Err(UserError::NoSuchSession(_))
    ));
    // Roles apply to open sessions at once.
    auth.set_role("bob", Role::Operator, "admin").await.unwrap();
    assert_eq!(auth.caller(&bob_token.token).unwrap().role, Role::Operator);
    assert!(matches!(
        auth.set_role("admin", Role::Viewer, "admin").await,
        Err(UserError::LastAdmin(_))
    ));
    assert!(matches!(
        auth.remove_user("admin", "admin").await,
        Err(UserError::LastAdmin(_))
    ));
    // An admin resets bob's password: bob must change it again, his session ends.
    auth.set_password(&admin, LOCAL, "bob", &change(None, "reset by admin"))
        .await
        .unwrap();
    assert!(auth.caller(&bob_token.token).is_none());
    assert!(
        auth.login("bob", "reset by admin", LOCAL)
            .await
            .unwrap()
            .must_change_password
    );
    auth.remove_user("bob", "admin").await.unwrap();
    assert!(matches!(
        auth.login("bob", "reset by admin", LOCAL).await,
        Err(AuthError::Denied)
    ));
    assert_eq!(auth.list_users().len(), 1);
    auth.revoke_session(&admin, &admins_id).await.unwrap();
    assert!(auth.caller(&admin_token).is_none());
}
