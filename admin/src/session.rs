//! The admin session: user and password → bearer token → an authenticated registry client.
//!
//! Logging in is lazy, so a command that fails on its own input (a bad descriptor file) fails
//! before the registry is contacted; a session that expires is renewed once, transparently.

use anyhow::{Result, bail};
use grid_proto::api::{LocateReply, LoginReply, LoginRequest};
use grid_proto::client::{Client, ClientError};
use grid_proto::paths;
use serde_json::Value;

/// Credentials and, once logged in, the authenticated client.
#[derive(Debug)]
pub struct Session {
    url: String,
    user: Option<String>,
    password: Option<String>,
    client: Option<Client>,
    must_change_password: bool,
    scripted: bool,
}

impl Session {
    /// A session with the registry at `url`; nothing is sent yet.
    pub fn new(url: &str, user: Option<String>, password: Option<String>) -> Self {
        Self {
            url: url.trim_end_matches('/').to_owned(),
            user,
            password,
            client: None,
            must_change_password: false,
            scripted: false,
        }
    }

    /// Marks the session as a script's (`-e`): secrets come from stdin, not a terminal.
    pub fn set_scripted(&mut self, scripted: bool) {
        self.scripted = scripted;
    }

    /// Is this a script's session?
    pub fn scripted(&self) -> bool {
        self.scripted
    }

    /// The user name, once known.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The password this session logged in with.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Did the last login say the user must choose a new password?
    pub fn must_change_password(&self) -> bool {
        self.must_change_password
    }

    /// The password was changed: later logins use the new one.
    pub fn password_changed(&mut self, password: String) {
        self.password = Some(password);
        self.must_change_password = false;
    }

    /// The registry's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Are both user and password known?
    pub fn has_credentials(&self) -> bool {
        self.user.is_some() && self.password.is_some()
    }

    /// The credentials known so far.
    pub fn credentials(&self) -> (Option<String>, Option<String>) {
        (self.user.clone(), self.password.clone())
    }

    /// Sets the credentials (the shell asks for missing ones) and forgets any token.
    pub fn set_credentials(&mut self, user: String, password: String) {
        self.user = Some(user);
        self.password = Some(password);
        self.client = None;
    }

    /// The missing credentials, by flag name.
    pub fn missing_credentials(&self) -> Option<&'static str> {
        match (&self.user, &self.password) {
            (None, None) => Some("a user name and a password (-u USER -p PASSWORD)"),
            (None, Some(_)) => Some("a user name (-u USER)"),
            (Some(_), None) => Some("a password (-p PASSWORD)"),
            _ => None,
        }
    }

    /// Logs in now (`POST /v1/sessions`), replacing any previous token.
    pub async fn login(&mut self) -> Result<&Client> {
        let (Some(user), Some(password)) = (&self.user, &self.password) else {
            bail!(
                "gridadmin needs {}",
                self.missing_credentials().unwrap_or("credentials")
            );
        };
        let anonymous = Client::new(&self.url, "registry")?;
        let reply: LoginReply = anonymous
            .post(
                paths::SESSIONS,
                &LoginRequest {
                    user: user.clone(),
                    password: password.clone(),
                },
            )
            .await?;
        self.must_change_password = reply.must_change_password;
        Ok(self.client.insert(anonymous.bearer(&reply.token)?))
    }

    /// The authenticated client, logging in first if needed.
    pub async fn client(&mut self) -> Result<&Client> {
        if self.client.is_none() {
            self.login().await?;
        }
        Ok(self.client.as_ref().expect("logged in above"))
    }

    /// `GET path` → the reply as JSON.
    pub async fn get(&mut self, path: &str) -> Result<Value> {
        self.call(Method::Get, path, None).await
    }

    /// `POST path` with a JSON body → the reply as JSON.
    pub async fn post(&mut self, path: &str, body: Value) -> Result<Value> {
        self.call(Method::Post, path, Some(body)).await
    }

    /// `PUT path` with a JSON body → the reply as JSON.
    pub async fn put(&mut self, path: &str, body: Value) -> Result<Value> {
        self.call(Method::Put, path, Some(body)).await
    }

    /// `DELETE path` → the reply as JSON.
    pub async fn delete(&mut self, path: &str) -> Result<Value> {
        self.call(Method::Delete, path, None).await
    }

    /// Locates an adapter or a replica group (logged in, as every command is; the route itself
    /// is open, so an expired token is no matter).
    pub async fn locate(&mut self, id: &str) -> Result<LocateReply> {
        Ok(self.client().await?.locate(id).await?)
    }

    /// One call; a 401 on a token we already had (it expired) logs in again and retries once.
    async fn call(&mut self, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
        let had_token = self.client.is_some();
        match send(self.client().await?, method, path, body.as_ref()).await {
            Err(e) if had_token && e.status() == Some(401) => {
                let client = self.login().await?;
                Ok(send(client, method, path, body.as_ref()).await?)
            }
            other => Ok(other?),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
}

async fn send(
    client: &Client,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, ClientError> {
    let empty = Value::Object(serde_json::Map::new());
    let body = body.unwrap_or(&empty);
    match method {
        Method::Get => client.get(path).await,
        Method::Post => client.post(path, body).await,
        Method::Put => client.put(path, body).await,
        Method::Delete => client.delete(path).await,
    }
}
