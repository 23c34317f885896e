//! Who may do what: users and their roles, sessions, and the audit log, as the registry's API
//! carries them.

use serde::{Deserialize, Serialize};

/// What a user may do. Each role includes the ones below it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything; changes nothing. What an answer that names no role means.
    #[default]
    Viewer,
    /// Starts, stops, restarts, enables and disables servers, and drives renders.
    Operator,
    /// Everything: applications, nodes, users, the audit log.
    Admin,
}

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// The name the API and the CLI use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role '{s}': the roles are admin, operator, viewer"))
    }
}

/// The longest user name.
pub const MAX_USER_NAME: usize = 64;
/// The shortest password a user may set.
pub const MIN_PASSWORD: usize = 8;
/// The longest password (hashing cost is bounded by it).
pub const MAX_PASSWORD: usize = 1024;

/// Checks a user name: 1 to [`MAX_USER_NAME`] of `A-Z a-z 0-9 . _ -`, not starting with `-`.
pub fn check_user_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_USER_NAME {
        return Err(format!(
            "user name '{name}' is {} characters; it must be 1 to {MAX_USER_NAME}",
            name.chars().count()
        ));
    }
    if name.starts_with('-')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(format!(
            "user name '{name}' may hold only letters, digits, '.', '_' and '-', and not start with '-'"
        ));
    }
    Ok(())
}

/// Checks a new password's length (in characters).
pub fn check_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(format!(
            "the password is {n} characters; it must be at least {MIN_PASSWORD}"
        ));
    }
    if n > MAX_PASSWORD {
        return Err(format!(
            "the password is {n} characters; it must be at most {MAX_PASSWORD}"
        ));
    }
    Ok(())
}

/// A user as listed (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    /// User name.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// True while the user still has a password they were given (the default one, or one an
    /// admin set): the console and the shell make them choose their own.
    pub must_change_password: bool,
    /// Live sessions.
    pub sessions: usize,
}

/// `POST /v1/users`.
#[derive(Clone, Serialize, Deserialize)]
pub struct UserAdd {
    /// User name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// First password; the user must change it at first login.
    pub password: String,
}

impl std::fmt::Debug for UserAdd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserAdd")
            .field("name", &self.name)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// `PUT /v1/users/{name}/password`: a user changing their own password gives the current one;
/// an admin setting another user's does not.
#[derive(Clone, Serialize, Deserialize)]
pub struct PasswordChange {
    /// The password now (required for one's own).
    #[serde(default)]
    pub current: Option<String>,
    /// The new password.
    pub password: String,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordChange { .. }")
    }
}

/// `PUT /v1/users/{name}/role`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleChange {
    /// The new role.
    pub role: Role,
}

/// `GET /v1/whoami`: the session's user, as a render checking a bearer token asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// User name.
    pub user: String,
    /// Their role now.
    pub role: Role,
}

/// A session as listed: never its token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// Its public id (a prefix of the token's hash), to revoke it by.
    pub id: String,
    /// Whose.
    pub user: String,
    /// The address it was opened from.
    pub peer: String,
    /// Opened, ms since the epoch.
    pub created_ms: u64,
    /// Expires, ms since the epoch.
    pub expires_ms: u64,
    /// True for the session that asked.
    pub current: bool,
}

/// One mutating request, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its place in the log (grows).
    pub seq: u64,
    /// When, ms since the epoch.
    pub at_ms: u64,
    /// Who (the session's user).
    pub user: String,
    /// From where (peer address).
    pub peer: String,
    /// What: method and path (`POST /v1/servers/MediaServer-1/stop`).
    pub action: String,
    /// The answer's status code.
    pub status: u16,
    /// `ok`, or the error the registry answered.
    pub result: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_and_parse() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!(
            "root"
                .parse::<Role>()
                .unwrap_err()
                .contains("admin, operator, viewer")
        );
        assert_eq!(serde_json::to_string(&Role::Viewer).unwrap(), "\"viewer\"");
    }

    #[test]
    fn names_and_passwords_are_bounded() {
        assert!(check_user_name("ops.alice-2").is_ok());
        assert!(check_user_name("").is_err());
        assert!(check_user_name("-x").is_err());
        assert!(check_user_name("a b").is_err());
        assert!(
            check_user_name(&"a".repeat(65))
                .unwrap_err()
                .contains("1 to 64")
        );
        assert!(check_password("short").unwrap_err().contains("at least 8"));
        assert!(check_password("long enough").is_ok());
        assert!(check_password(&"x".repeat(1025)).is_err());
    }
}
