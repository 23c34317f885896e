//! The audit log: every change a session asks for (who, when, from where, what, result) is
//! persisted by one middleware, so no handler can forget it; `GET /v1/audit` reads it back.
//! Reads are not recorded, nor what nodes send with the cluster secret, nor logins (refused
//! ones are in the log, and the throttle holds them back).

use axum::Json;
use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use grid_proto::access::AuditEntry;
use grid_proto::api::ErrorBody;
use grid_proto::serve::Peer;
use serde::Deserialize;

use super::error::ApiError;
use super::extract::{Admin, request_token};
use crate::state::AppState;

/// The most entries one read returns.
pub const MAX_READ: usize = 10_000;
/// The largest error answer read back for its message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Records every non-read request made with a live session, after it was answered.
pub(crate) async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method().is_safe() {
        return next.run(req).await;
    }
    let Some(caller) = request_token(req.headers()).and_then(|(t, _)| state.auth().caller(&t))
    else {
        return next.run(req).await;
    };
    let peer = req
        .extensions()
        .get::<Peer>()
        .map_or_else(|| "-".to_owned(), |Peer(a)| a.ip().to_string());
    let action = format!("{} {}", req.method(), req.uri().path());
    let response = next.run(req).await;
    let status = response.status();
    let (response, result) = if status.is_success() || status.is_redirection() {
        (response, "ok".to_owned())
    } else {
        error_message(response).await
    };
    let entry = AuditEntry {
        seq: 0,
        at_ms: grid_proto::now_ms(),
        user: caller.user,
        peer,
        action,
        status: status.as_u16(),
        result,
    };
    // Written to its end even if the client is gone by now.
    let store = state.store().clone();
    let written = tokio::spawn(async move { store.append_audit(entry).await }).await;
    match written {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::error!(cause = %e, "could not write the audit log"),
        Err(e) => tracing::error!(cause = %e, "could not write the audit log"),
    }
    response
}

/// The `error` of an error answer, and the answer rebuilt for the client.
async fn error_message(response: Response) -> (Response, String) {
    let (parts, body) = response.into_parts();
    let fallback = format!("error {}", parts.status.as_u16());
    match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => {
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.error)
                .unwrap_or(fallback);
            (Response::from_parts(parts, bytes.into()), message)
        }
        // Too large to keep: the client gets the status alone.
        Err(_) => (
            Response::from_parts(parts, axum::body::Body::empty()),
            fallback,
        ),
    }
}

/// `GET /v1/audit` parameters.
#[derive(Debug, Deserialize)]
pub(crate) struct Since {
    /// Entries at or after this time, ms since the epoch.
    #[serde(default)]
    since: u64,
    /// At most this many (the newest), up to [`MAX_READ`].
    #[serde(default)]
    limit: Option<usize>,
}

/// `GET /v1/audit?since=MS&limit=N`: oldest first.
pub(crate) async fn read(
    State(state): State<AppState>,
    _: Admin,
    Query(q): Query<Since>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(1000);
    if limit == 0 || limit > MAX_READ {
        return Err(ApiError::BadRequest(
            format!("limit {limit} is out of range: it must be 1 to {MAX_READ}"),
            None,
        ));
    }
    let entries = state
        .store()
        .audit_since(q.since, limit)
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(entries))
}
