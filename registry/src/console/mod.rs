//! The web console at `/`: a login page, and for a session the operator's live view of the grid,
//! fed by `GET /v1/events`. The session token lives in an HttpOnly, SameSite=Strict cookie; the
//! API accepts it in place of a bearer token, and every change asked with it must carry the
//! session's CSRF token (`api::extract`). Its assets are compiled into the binary.

mod page;

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Router};
use grid_proto::access::PasswordChange;
use grid_proto::serve::Peer;
use serde::Deserialize;

use crate::api::extract::{CSRF_HEADER, SESSION_COOKIE, session_cookie};
use crate::auth::{AuthError, Caller, SESSION_TTL};
use crate::state::AppState;

/// The console's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/password", get(password_page).post(change_password))
        .route("/static/{file}", get(asset))
}

/// Why the login page is shown.
#[derive(Debug, Deserialize)]
struct Shown {
    #[serde(default)]
    expired: Option<String>,
    #[serde(default)]
    ended: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

#[derive(Deserialize)]
struct NewPassword {
    #[serde(default)]
    csrf: String,
    current: String,
    password: String,
    confirm: String,
}

/// The session of the console's cookie: its token and caller; else where to send the browser.
fn session(state: &AppState, headers: &HeaderMap) -> Result<(String, Caller), Redirect> {
    let Some(token) = session_cookie(headers) else {
        return Err(Redirect::to("/login"));
    };
    match state.auth().caller(&token) {
        Some(caller) => Ok((token, caller)),
        None => Err(Redirect::to("/login?expired=1")),
    }
}

/// The console for a session (once its user has a password of their own), else the login page.
async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session(&state, &headers) {
        Ok((_, caller)) if caller.must_change_password => Redirect::to("/password").into_response(),
        Ok((token, caller)) => page::html(page::console(
            &caller.user,
            &state.auth().csrf_token(&token),
        )),
        Err(to) => to.into_response(),
    }
}

async fn password_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match session(&state, &headers) {
        Ok((token, caller)) => page::html(page::password(
            &caller.user,
            &state.auth().csrf_token(&token),
            caller.must_change_password,
            None,
        )),
        Err(to) => to.into_response(),
    }
}

/// Sets the session user's own password from the form, then goes on to the console.
async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<Peer>>,
    Form(form): Form<NewPassword>,
) -> Response {
    let (token, caller) = match session(&state, &headers) {
        Ok(s) => s,
        Err(to) => return to.into_response(),
    };
    let csrf = state.auth().csrf_token(&token);
    let again = |status: StatusCode, message: &str| {
        let page = page::password(
            &caller.user,
            &csrf,
            caller.must_change_password,
            Some(message),
        );
        (status, page::html(page)).into_response()
    };
    if !grid_proto::secret::eq(form.csrf.as_bytes(), csrf.as_bytes()) {
        return again(
            StatusCode::FORBIDDEN,
            "refused: changing the password needs the page's CSRF token",
        );
    }
    if form.password != form.confirm {
        return again(StatusCode::BAD_REQUEST, "the two new passwords differ");
    }
    let change = PasswordChange {
        current: Some(form.current),
        password: form.password,
    };
    let peer = crate::api::sessions::peer_ip(peer);
    match state
        .auth()
        .set_password(&caller, peer, &caller.user, &change)
        .await
    {
        Ok(()) => Redirect::to("/").into_response(),
        Err(e) => {
            let message = e.to_string();
            let status = crate::api::error::ApiError::from(e)
                .into_response()
                .status();
            again(status, &message)
        }
    }
}

async fn login_page(Query(shown): Query<Shown>) -> Response {
    let note = if shown.expired.is_some() {
        Some("Your session has expired; log in again.")
    } else if shown.ended.is_some() {
        Some("Logged out.")
    } else {
        None
    };
    page::html(page::login(None, note))
}

/// Checks the form's user and password, opens a session and sets its cookie.
async fn login(
    State(state): State<AppState>,
    peer: Option<Extension<Peer>>,
    Form(form): Form<Credentials>,
) -> Response {
    let peer = crate::api::sessions::peer_ip(peer);
    match crate::api::sessions::open(&state, &form.user, &form.password, peer).await {
        Ok(opened) => {
            let cookie = format!(
                "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
                opened.token,
                SESSION_TTL.as_secs()
            );
            let next = if opened.must_change_password {
                "/password"
            } else {
                "/"
            };
            with_cookie(Redirect::to(next).into_response(), &cookie)
        }
        Err(AuthError::Denied) => {
            let page = page::login(Some(&AuthError::Denied.to_string()), None);
            (StatusCode::UNAUTHORIZED, page::html(page)).into_response()
        }
        Err(e @ AuthError::Throttled { .. }) => {
            let page = page::login(Some(&e.to_string()), None);
            let mut response = (StatusCode::TOO_MANY_REQUESTS, page::html(page)).into_response();
            if let AuthError::Throttled { retry_after_s, .. } = e {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, retry_after_s.into());
            }
            response
        }
        Err(AuthError::Internal(_)) => {
            let page = page::login(Some("the registry could not check the password"), None);
            (StatusCode::INTERNAL_SERVER_ERROR, page::html(page)).into_response()
        }
    }
}

/// Ends the session (its CSRF token in the form or header) and clears the cookie.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // An unknown or expired session has nothing to end: only the cookie goes.
    if let Some(token) = session_cookie(&headers).filter(|t| state.auth().caller(t).is_some()) {
        // The form's `csrf` field: a hex token, so it needs no decoding.
        let field = std::str::from_utf8(&body).ok().and_then(|b| {
            b.split('&')
                .find_map(|kv| kv.strip_prefix("csrf="))
                .map(str::as_bytes)
        });
        let given = headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .or(field)
            .unwrap_or_default();
        if !grid_proto::secret::eq(given, state.auth().csrf_token(&token).as_bytes()) {
            let message =
                format!("refused: logging out needs the page's CSRF token ({CSRF_HEADER})");
            return (
                StatusCode::FORBIDDEN,
                page::html(page::login(Some(&message), None)),
            )
                .into_response();
        }
        if let Err(e) = state.auth().logout(&token).await {
            tracing::error!(cause = %e, "could not end a session");
        }
    }
    let cookie = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    with_cookie(Redirect::to("/login?ended=1").into_response(), &cookie)
}

fn with_cookie(mut resp: Response, cookie: &str) -> Response {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// The page's files, compiled in: (name, content type, text).
const ASSETS: [(&str, &str, &str); 7] = [
    ("console.js", JS, include_str!("assets/console.js")),
    ("core.js", JS, include_str!("assets/core.js")),
    ("overview.js", JS, include_str!("assets/overview.js")),
    ("servers.js", JS, include_str!("assets/servers.js")),
    (
        "applications.js",
        JS,
        include_str!("assets/applications.js"),
    ),
    ("listener.js", JS, include_str!("assets/listener.js")),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    ),
];

const JS: &str = "text/javascript; charset=utf-8";

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(name, ..)| *name == file) {
        Some((_, content_type, body)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}
