//! Managing users and sessions: add, remove, change a password or a role, list and revoke
//! sessions. Every change is written to the store before memory, and all of them take the
//! change lock, so the check "is this the last admin" and the change are one step.

use std::net::IpAddr;

use grid_proto::access::{
    PasswordChange, Role, SessionView, UserAdd, UserView, check_password, check_user_name,
};

use super::{Auth, AuthError, Caller, hash_blocking, public_id};
use crate::store::StoredUser;

/// Why a change to users or sessions was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// No such user.
    #[error("no user '{0}'")]
    NoSuchUser(String),
    /// The name is taken.
    #[error("user '{0}' already exists")]
    Exists(String),
    /// The change would leave the grid without an admin.
    #[error("refused: '{0}' is the last admin; make another user admin first")]
    LastAdmin(String),
    /// A name, password or role that breaks a rule.
    #[error("{0}")]
    Invalid(String),
    /// Changing one's own password without the right current one.
    #[error("the current password is wrong")]
    WrongPassword,
    /// A non-admin acting on someone else.
    #[error("refused: {0}")]
    NotYours(String),
    /// No such session.
    #[error("no session '{0}'")]
    NoSuchSession(String),
    /// Too many wrong current passwords.
    #[error(transparent)]
    Throttled(AuthError),
    /// The store or the hasher failed.
    #[error("{0}")]
    Internal(String),
}

impl From<AuthError> for UserError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Throttled { .. } => Self::Throttled(e),
            other => Self::Internal(other.to_string()),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> UserError {
    UserError::Internal(e.to_string())
}

impl Auth {
    /// Every user, by name.
    pub fn list_users(&self) -> Vec<UserView> {
        let counts = self.sessions.counts(grid_proto::now_ms());
        let mut out: Vec<UserView> = self
            .read_users()
            .iter()
            .map(|(name, u)| UserView {
                name: name.clone(),
                role: u.role,
                must_change_password: u.must_change == Some(true),
                sessions: counts.get(name).copied().unwrap_or(0),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn view(&self, name: &str) -> Option<UserView> {
        self.list_users().into_iter().find(|u| u.name == name)
    }

    /// Adds a user; they must change the password they were given at first login.
    pub async fn add_user(&self, add: &UserAdd, by: &str) -> Result<UserView, UserError> {
        check_user_name(&add.name).map_err(UserError::Invalid)?;
        check_password(&add.password).map_err(UserError::Invalid)?;
        let _change = self.changes.lock().await;
        if self.read_users().contains_key(&add.name) {
            return Err(UserError::Exists(add.name.clone()));
        }
        let user = StoredUser::new(hash_blocking(&add.password).await?, add.role, true);
        self.store
            .put_user(&add.name, &user, &[])
            .await
            .map_err(internal)?;
        self.write_users().insert(add.name.clone(), user);
        tracing::info!(user = %add.name, role = %add.role, %by, "user added");
        self.view(&add.name)
            .ok_or_else(|| UserError::NoSuchUser(add.name.clone()))
    }

    /// Sets `name`'s password. Users change their own, giving the current one (it counts
    /// against the login throttle when wrong); an admin sets anyone's without it, and that
    /// user must change it at their next login. Every other session of `name` ends.
    pub async fn set_password(
        &self,
        caller: &Caller,
        peer: IpAddr,
        name: &str,
        change: &PasswordChange,
    ) -> Result<(), UserError> {
        let own = caller.user == name;
        if !own && caller.role < Role::Admin {
            return Err(UserError::NotYours(format!(
                "'{}' is {} and may change only their own password",
                caller.user,
                article(caller.role)
            )));
        }
        check_password(&change.password).map_err(UserError::Invalid)?;
        if own {
            let Some(current) = &change.current else {
                return Err(UserError::Invalid(
                    "changing your own password needs the current one (current)".into(),
                ));
            };
            let checking = self.held(name, peer)?;
            let good = self.check_password(name, current, peer).await?;
            drop(checking);
            if !good {
                return Err(UserError::WrongPassword);
            }
            if *current == change.password {
                return Err(UserError::Invalid(
                    "the new password is the same as the current one".into(),
                ));
            }
        }
        let _change = self.changes.lock().await;
        let Some(mut user) = self.read_users().get(name).cloned() else {
            return Err(UserError::NoSuchUser(name.to_owned()));
        };
        user.hash = hash_blocking(&change.password).await?;
        user.must_change = Some(!own);
        // The asker's own session stays; every other session of the user ends.
        let revoked: Vec<String> = self
            .sessions
            .of_user(name)
            .into_iter()
            .filter(|h| *h != caller.session)
            .collect();
        self.store
            .put_user(name, &user, &revoked)
            .await
            .map_err(internal)?;
        self.sessions.remove(&revoked);
        self.forget_verified(name);
        self.write_users().insert(name.to_owned(), user);
        tracing::info!(user = %name, by = %caller.user, sessions_ended = revoked.len(), "password changed");
        Ok(())
    }

    /// Gives `name` another role; the last admin keeps theirs.
    pub async fn set_role(&self, name: &str, role: Role, by: &str) -> Result<UserView, UserError> {
        let _change = self.changes.lock().await;
        let Some(mut user) = self.read_users().get(name).cloned() else {
            return Err(UserError::NoSuchUser(name.to_owned()));
        };
        if user.role == Role::Admin && role != Role::Admin && self.admins() <= 1 {
            return Err(UserError::LastAdmin(name.to_owned()));
        }
        user.role = role;
        self.store
            .put_user(name, &user, &[])
            .await
            .map_err(internal)?;
        self.write_users().insert(name.to_owned(), user);
        tracing::info!(user = %name, %role, %by, "role changed");
        self.view(name)
            .ok_or_else(|| UserError::NoSuchUser(name.to_owned()))
    }

    /// Removes `name` and ends their sessions; the last admin stays.
    pub async fn remove_user(&self, name: &str, by: &str) -> Result<(), UserError> {
        let _change = self.changes.lock().await;
        let Some(user) = self.read_users().get(name).cloned() else {
            return Err(UserError::NoSuchUser(name.to_owned()));
        };
        if user.role == Role::Admin && self.admins() <= 1 {
            return Err(UserError::LastAdmin(name.to_owned()));
        }
        let sessions = self.sessions.of_user(name);
        self.store
            .remove_user(name, &sessions)
            .await
            .map_err(internal)?;
        self.sessions.remove(&sessions);
        self.forget_verified(name);
        self.write_users().remove(name);
        tracing::info!(user = %name, %by, sessions_ended = sessions.len(), "user removed");
        Ok(())
    }

    fn admins(&self) -> usize {
        self.read_users()
            .values()
            .filter(|u| u.role == Role::Admin)
            .count()
    }

    fn forget_verified(&self, name: &str) {
        self.verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
    }

    /// Live sessions: an admin sees everyone's, others their own.
    pub fn list_sessions(&self, caller: &Caller) -> Vec<SessionView> {
        let only = (caller.role < Role::Admin).then_some(caller.user.as_str());
        self.sessions
            .list(only, &caller.session, grid_proto::now_ms())
    }

    /// Ends session `id`: one's own, or anyone's for an admin.
    pub async fn revoke_session(&self, caller: &Caller, id: &str) -> Result<String, UserError> {
        let found = self.sessions.with_id(id);
        let [(hash, session)] = found.as_slice() else {
            return Err(UserError::NoSuchSession(id.to_owned()));
        };
        if session.user != caller.user && caller.role < Role::Admin {
            // The same answer as an unknown id: others' sessions are not to be probed.
            return Err(UserError::NoSuchSession(id.to_owned()));
        }
        let hashes = vec![hash.clone()];
        self.store
            .remove_sessions(&hashes)
            .await
            .map_err(internal)?;
        self.sessions.remove(&hashes);
        tracing::info!(session = public_id(hash), user = %session.user, by = %caller.user, "session revoked");
        Ok(session.user.clone())
    }
}

/// "a viewer", "an operator", "an admin".
pub fn article(role: Role) -> String {
    match role {
        Role::Viewer => "a viewer".into(),
        Role::Operator => "an operator".into(),
        Role::Admin => "an admin".into(),
    }
}
