//! The HTTP/JSON client every binary uses to talk to the registry, a node or a server.
//!
//! Errors come back as [`ClientError`]: the registry's own message for API errors, and one plain
//! sentence naming the peer when it cannot be reached, so CLIs print a line, never a debug dump.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::{Serialize, de::DeserializeOwned};

use crate::api::{ErrorBody, LocateReply};
use crate::error::{http_cause, innermost};
use crate::paths;

/// How long a client keeps an idle connection for reuse: under the servers' idle close (the
/// header timeout, 10 s by default), so a request never goes out on a connection the server
/// is closing.
pub const POOL_IDLE: Duration = Duration::from_secs(5);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: refused, reset, timed out.
    #[error("{what} at {url} is unreachable: {reason}")]
    Unreachable {
        /// What was called ("registry", "node node1").
        what: String,
        /// The base URL.
        url: String,
        /// The root cause, in words.
        reason: String,
    },
    /// The peer answered with an error status.
    #[error("{message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The peer's message.
        message: String,
        /// The peer's structured detail.
        detail: Option<serde_json::Value>,
    },
    /// The peer answered something we could not read.
    #[error("unexpected answer from {what} at {url}: {reason}")]
    Decode {
        /// What was called.
        what: String,
        /// The URL.
        url: String,
        /// Why it could not be read.
        reason: String,
    },
    /// A caller-side problem (bad base URL, bad header value).
    #[error("{0}")]
    Usage(String),
}

impl ClientError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the peer could not be reached at all.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

/// A client bound to one base URL, with optional credentials.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    what: String,
    headers: HeaderMap,
}

impl Client {
    /// A client for `base` (`http://host:port`), described as `what` in error messages.
    pub fn new(base: &str, what: &str) -> Result<Self, ClientError> {
        Self::with_timeout(base, what, Duration::from_secs(15))
    }

    /// Like [`Client::new`] with a whole-request timeout.
    pub fn with_timeout(base: &str, what: &str, timeout: Duration) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Usage(format!(
                "'{base}' is not an http:// URL"
            )));
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2).min(timeout))
            .timeout(timeout)
            .tcp_nodelay(true)
            .pool_idle_timeout(POOL_IDLE);
        // An https:// peer of the grid shows a certificate of the grid's CA, when one is set.
        if let Some(ca) = crate::tls::trusted() {
            let config = crate::tls::client_config(ca)
                .map_err(|e| ClientError::Usage(format!("the grid CA cannot be used: {e}")))?;
            builder = builder.tls_backend_preconfigured(config);
        }
        let http = builder.build().map_err(|e| {
            ClientError::Usage(format!("cannot build an HTTP client: {}", innermost(&e)))
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static(crate::PROTOCOL_HEADER),
            HeaderValue::from_static(crate::PROTOCOL_VERSION),
        );
        Ok(Self {
            http,
            base,
            what: what.to_owned(),
            headers,
        })
    }

    /// Shares this client's connection pool with another base URL.
    pub fn for_base(&self, base: &str, what: &str) -> Self {
        let mut c = self.clone();
        c.base = base.trim_end_matches('/').to_owned();
        c.what = what.to_owned();
        c
    }

    /// Sends `Authorization: Bearer token` with every request.
    pub fn bearer(mut self, token: &str) -> Result<Self, ClientError> {
        let v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            ClientError::Usage("the token holds characters a header cannot carry".into())
        })?;
        self.headers.insert(AUTHORIZATION, v);
        Ok(self)
    }

    /// Sends the cluster secret with every request.
    pub fn secret(mut self, secret: &str) -> Result<Self, ClientError> {
        let v = HeaderValue::from_str(secret).map_err(|_| {
            ClientError::Usage("the cluster secret holds characters a header cannot carry".into())
        })?;
        self.headers
            .insert(HeaderName::from_static(crate::SECRET_HEADER), v);
        Ok(self)
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The underlying reqwest client (for streaming bodies).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `GET path` → JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.http.get(self.url(path))).await
    }

    /// `POST path` with a JSON body → JSON.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.with_body(Method::POST, path, body).await
    }

    /// `PUT path` with a JSON body → JSON.
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.with_body(Method::PUT, path, body).await
    }

    /// `DELETE path` → JSON.
    pub async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send(self.http.delete(self.url(path))).await
    }

    /// `GET /v1/locate/{id}`: the live endpoints of an adapter or a replica group, in the
    /// group's order (locating an on-demand server's adapter starts it first).
    pub async fn locate(&self, id: &str) -> Result<LocateReply, ClientError> {
        self.get(&paths::fill(paths::LOCATE, &[id])).await
    }

    async fn with_body<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        self.send(self.http.request(method, self.url(path)).json(body))
            .await
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a prepared request with this client's headers; returns the response on a 2xx.
    pub async fn send_raw(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ClientError> {
        let resp = req
            .headers(self.headers.clone())
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        let (message, detail) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => (body.error, body.detail),
            Err(_) => {
                let text = String::from_utf8_lossy(&bytes).trim().to_owned();
                let text = if text.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_owned()
                } else {
                    text
                };
                (
                    format!("{} answered {}: {text}", self.what, status.as_u16()),
                    None,
                )
            }
        };
        Err(ClientError::Api {
            status: status.as_u16(),
            message,
            detail,
        })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let resp = self.send_raw(req).await?;
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            what: self.what.clone(),
            url: self.base.clone(),
            reason: e.to_string(),
        })
    }

    fn unreachable(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            what: self.what.clone(),
            url: self.base.clone(),
            reason: http_cause(e),
        }
    }
}
