//! The request extractors: a JSON body, a session holding a role, a node's cluster secret.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

use grid_proto::access::Role;

use super::error::ApiError;
use crate::auth::Caller;
use crate::state::AppState;

/// A JSON body whose rejection is an [`ApiError`] in our shape.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            // A chunked body that ran past `--max-body`; one that said its length was refused
            // before it was read.
            Err(r) if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => Err(
                ApiError::TooLarge(format!("request body too large: {}", r.body_text())),
            ),
            Err(r) => Err(ApiError::BadRequest(
                format!("bad request body: {}", r.body_text()),
                None,
            )),
        }
    }
}

/// The session token of a request: its bearer token, else the console's cookie; and whether it
/// came by cookie.
pub fn request_token(headers: &axum::http::HeaderMap) -> Option<(String, bool)> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match bearer {
        Some(t) => Some((t.to_owned(), false)),
        None => session_cookie(headers).map(|t| (t, true)),
    }
}

/// The caller of a request with a live session (bearer token from `POST /v1/sessions`, or the
/// console's cookie with its CSRF token on changes).
async fn caller(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let (token, by_cookie) = request_token(&parts.headers)
        .ok_or_else(|| ApiError::Unauthorized("log in first: no session token".into()))?;
    let caller = state.auth().caller(&token).ok_or_else(|| {
        ApiError::Unauthorized("the session has expired or is unknown; log in again".into())
    })?;
    // A browser sends the cookie with any request, so a change asked with it must also carry
    // the token only the console's own pages know.
    if by_cookie && !parts.method.is_safe() {
        let given = parts
            .headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !grid_proto::secret::eq(given, state.auth().csrf_token(&token).as_bytes()) {
            return Err(ApiError::Forbidden(format!(
                "refused: a change from the console needs its CSRF token ({CSRF_HEADER})"
            )));
        }
    }
    Ok(caller)
}

/// Refuses `caller` unless their role is at least `need`, naming both and what was asked.
pub fn require(caller: Caller, need: Role, what: &str) -> Result<Caller, ApiError> {
    if caller.role >= need {
        return Ok(caller);
    }
    Err(ApiError::Forbidden(format!(
        "refused: '{}' is {}; {what} needs the {need} role",
        caller.user,
        crate::auth::article(caller.role),
    )))
}

/// Extractors for a caller holding at least a role.
macro_rules! role_extractor {
    ($($(#[$doc:meta])* $name:ident => $role:expr;)*) => {$(
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub Caller);

        impl FromRequestParts<AppState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                let c = caller(parts, state).await?;
                let what = format!("{} {}", parts.method, parts.uri.path());
                require(c, $role, &what).map(Self)
            }
        }
    )*};
}

role_extractor! {
    /// Any logged-in user: every role reads.
    Viewer => Role::Viewer;
    /// An operator or an admin: server actions and renders.
    Operator => Role::Operator;
    /// An admin: applications, nodes, users, the audit log.
    Admin => Role::Admin;
}

/// The cookie that holds a console's session token.
pub const SESSION_COOKIE: &str = "grid_session";
/// The header a console page sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The session token of a console's cookie, if the request has one.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == SESSION_COOKIE && !v.is_empty()).then(|| v.to_owned())
        })
}

/// A node that presented the cluster secret.
#[derive(Debug)]
pub struct NodeAuth;

impl FromRequestParts<AppState> for NodeAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let given = parts
            .headers
            .get(grid_proto::SECRET_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if grid_proto::secret::eq(given, state.secret().as_bytes()) {
            Ok(Self)
        } else {
            Err(ApiError::Unauthorized("unknown cluster secret".into()))
        }
    }
}
