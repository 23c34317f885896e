//! Who may drive the render. Reading (status, queue, `/listen`, metrics) is open; every change
//! (load, play, pause, seek, queue, channel, ...) needs one of:
//!
//! - the render's control token (`x-grid-control-token`), which the registry's gateway sends
//!   once it has checked that the session behind the request is an operator's or an admin's;
//! - an operator's or admin's session token (`Authorization: Bearer`, from the registry's
//!   `POST /v1/sessions`), which the render checks with the registry (`GET /v1/whoami`) and
//!   remembers for [`CACHE_FOR`], so a client driving it does not cost a call each time.
//!
//! A render run by hand (no node gave it the grid's service key) is open to anyone, as it says
//! at start.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use grid_proto::access::{Role, WhoAmI};
use grid_proto::api::ErrorBody;
use grid_proto::secret::{self, Purpose};
use sha2::{Digest, Sha256};

/// How long a checked session is believed.
pub const CACHE_FOR: Duration = Duration::from_secs(10);
/// How long the registry gets to answer a check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Sessions remembered at most (the oldest checks go first).
const MAX_CACHED: usize = 1024;

/// The render's gate.
#[derive(Debug)]
pub struct ControlAuth {
    id: String,
    service_key: Option<String>,
    registry: Option<String>,
    http: reqwest::Client,
    /// SHA-256 of a bearer token → who it was and when that was checked.
    checked: Mutex<HashMap<[u8; 32], (WhoAmI, Instant)>>,
}

/// Why a change was refused.
#[derive(Debug)]
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let body = Json(ErrorBody {
            error: self.1,
            detail: None,
        });
        (self.0, body).into_response()
    }
}

impl ControlAuth {
    /// The gate of render `id`; open when `service_key` is none.
    pub fn new(
        id: &str,
        service_key: Option<String>,
        registry: Option<String>,
        http: reqwest::Client,
    ) -> Arc<Self> {
        if service_key.is_none() {
            tracing::warn!("no service key (not started by a node): anyone may drive this render");
        }
        Arc::new(Self {
            id: id.to_owned(),
            service_key,
            registry,
            http,
            checked: Mutex::default(),
        })
    }

    /// Lets `parts` through, or says why not.
    async fn admit(&self, headers: &axum::http::HeaderMap) -> Result<(), Refused> {
        let Some(key) = &self.service_key else {
            return Ok(());
        };
        if let Some(given) = headers.get(grid_proto::CONTROL_TOKEN_HEADER) {
            if secret::check(key, Purpose::Control, &self.id, given.as_bytes()) {
                return Ok(());
            }
            return Err(Refused(
                StatusCode::FORBIDDEN,
                format!("refused: that is not the control token of {}", self.id),
            ));
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = bearer else {
            return Err(Refused(
                StatusCode::UNAUTHORIZED,
                format!(
                    "driving {} needs an operator's session (Authorization: Bearer, from the registry's POST /v1/sessions)",
                    self.id
                ),
            ));
        };
        let who = self.who(token).await?;
        if who.role < Role::Operator {
            return Err(Refused(
                StatusCode::FORBIDDEN,
                format!(
                    "refused: '{}' is a {}; driving {} needs the operator role",
                    who.user, who.role, self.id
                ),
            ));
        }
        Ok(())
    }

    /// Whose session `token` is: remembered, or asked of the registry.
    async fn who(&self, token: &str) -> Result<WhoAmI, Refused> {
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = Instant::now();
        {
            let checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((who, at)) = checked.get(&hash)
                && now.duration_since(*at) < CACHE_FOR
            {
                return Ok(who.clone());
            }
        }
        let Some(registry) = &self.registry else {
            return Err(Refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "cannot check the session: this render knows no registry".into(),
            ));
        };
        let url = format!(
            "{}{}",
            registry.trim_end_matches('/'),
            grid_proto::paths::WHOAMI
        );
        let unreachable = |e: reqwest::Error| {
            Refused(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "cannot check the session: the registry at {registry} does not answer ({})",
                    grid_proto::error::http_cause(&e)
                ),
            )
        };
        let answer = self
            .http
            .get(url)
            .bearer_auth(token)
            .timeout(CHECK_TIMEOUT)
            .send()
            .await
            .map_err(unreachable)?;
        if answer.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(Refused(
                StatusCode::UNAUTHORIZED,
                "the session has expired or is unknown; log in again".into(),
            ));
        }
        let who: WhoAmI = answer
            .error_for_status()
            .map_err(unreachable)?
            .json()
            .await
            .map_err(unreachable)?;
        let mut checked = self.checked.lock().unwrap_or_else(|p| p.into_inner());
        if checked.len() >= MAX_CACHED {
            checked.retain(|_, (_, at)| now.duration_since(*at) < CACHE_FOR);
            if checked.len() >= MAX_CACHED {
                checked.clear();
            }
        }
        checked.insert(hash, (who.clone(), now));
        Ok(who)
    }
}

/// The middleware: reads pass, changes go through [`ControlAuth::admit`].
pub async fn guard(State(auth): State<Arc<ControlAuth>>, req: Request, next: Next) -> Response {
    if req.method().is_safe() {
        return next.run(req).await;
    }
    match auth.admit(req.headers()).await {
        Ok(()) => next.run(req).await,
        Err(refused) => {
            tracing::debug!(
                status = refused.0.as_u16(),
                "control refused: {}",
                refused.1
            );
            refused.into_response()
        }
    }
}
