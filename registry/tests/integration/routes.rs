//! The router in process, driven with `oneshot` and no socket: the status and the exact body
//! of logins, validation, applications, the locator and the node secret.

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use grid_proto::descriptor::ApplicationDescriptor;
use grid_proto::paths;
use grid_registry::auth::Auth;
use grid_registry::state::{AppState, Settings};
use grid_registry::store::Store;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helper::{APP, register_body};

/// A router over a fresh store in `dir`, with the default admin user.
async fn router(dir: &std::path::Path) -> Router {
    let store = Store::open(dir).unwrap();
    let auth = Auth::open(store.clone()).await.unwrap();
    let settings = Settings {
        heartbeat: std::time::Duration::from_millis(100),
        node_timeout: std::time::Duration::from_secs(60),
        listen: "127.0.0.1:0".into(),
        data_dir: dir.display().to_string(),
        max_body: 64 * 1024,
        ca: None,
    };
    let token = tokio_util::sync::CancellationToken::new();
    let state = AppState::new(store, auth, settings, "s3cret".into(), token).unwrap();
    grid_registry::app(state)
}

/// Sends one request and returns its status and JSON body.
async fn call(
    app: &Router,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, json)
}

/// The answer of a refused request: `status` and the error `message`.
fn refused(status: StatusCode, message: &str) -> (StatusCode, Value) {
    (status, json!({ "error": message }))
}

/// `POST /v1/sessions` as admin with `password`.
async fn login(app: &Router, password: &str) -> (StatusCode, Value) {
    let body = json!({ "user": "admin", "password": password });
    call(app, Method::POST, paths::SESSIONS, &[], Some(body)).await
}

/// The router over a fresh store, and an admin's `Authorization` header.
struct Admin {
    app: Router,
    auth: String,
}

impl Admin {
    async fn new(dir: &std::path::Path) -> Self {
        let app = router(dir).await;
        let (status, body) = login(&app, "admin").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let auth = format!("Bearer {}", body["token"].as_str().unwrap());
        Self { app, auth }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let auth = [("authorization", self.auth.as_str())];
        call(&self.app, Method::GET, path, &auth, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let auth = [("authorization", self.auth.as_str())];
        call(&self.app, Method::POST, path, &auth, Some(body)).await
    }
}

#[tokio::test]
async fn login_accepts_the_admin_and_refuses_a_wrong_password() {
    let tmp = tempfile::tempdir().unwrap();
    let app = router(tmp.path()).await;

    let (status, body) = login(&app, "wrong").await;
    assert_eq!(
        (status, body),
        refused(StatusCode::UNAUTHORIZED, "wrong user name or password")
    );

    let (status, body) = login(&app, "admin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["expires_in_s"], json!(3600));
    assert_eq!(body["role"], json!("admin"));
    // The registry's own default password is to be changed.
    assert_eq!(body["must_change_password"], json!(true));
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.len(), 48);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");

    // The token opens the admin routes; no token is a 401.
    let auth = format!("Bearer {token}");
    let (status, body) = call(
        &app,
        Method::GET,
        paths::APPLICATIONS,
        &[("authorization", &auth)],
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let (status, body) = call(&app, Method::GET, paths::APPLICATIONS, &[], None).await;
    assert_eq!(
        (status, body),
        refused(StatusCode::UNAUTHORIZED, "log in first: no session token")
    );
}

#[tokio::test]
async fn a_bad_descriptor_is_a_400_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let admin = Admin::new(tmp.path()).await;
    let bad = APP.replace(
        "template = \"MS\"\nparameters = { index = \"2\" }",
        "template = \"Nope\"",
    );
    let (status, body) = admin
        .post(paths::APPLICATIONS, json!({ "source": bad }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "error": "invalid descriptor: nodes.node2.server-instances[0].template: unknown template 'Nope'",
            "detail": {
                "field": "nodes.node2.server-instances[0].template",
                "reason": "unknown template 'Nope'",
            },
        })
    );
    // Nothing was deployed.
    let (status, body) = admin.get(paths::APPLICATIONS).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
}

#[tokio::test]
async fn an_added_application_reads_back() {
    let tmp = tempfile::tempdir().unwrap();
    let admin = Admin::new(tmp.path()).await;
    let (status, body) = admin
        .post(paths::APPLICATIONS, json!({ "source": APP }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "name": "Spotifice",
            "serial": 1,
            "diff": {
                "name": "Spotifice",
                "exists": false,
                "added": ["MediaServer-1", "MediaServer-2"],
                "removed": [],
                "changed": [],
                "unchanged": [],
            },
        })
    );

    let path = paths::fill(paths::APPLICATION, &["Spotifice"]);
    let (status, mut body) = admin.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    let updated = body["updated_ms"].take();
    assert!(updated.as_u64().is_some_and(|ms| ms > 0), "{updated}");
    let servers = ApplicationDescriptor::parse(APP)
        .unwrap()
        .expand()
        .unwrap()
        .servers;
    assert_eq!(
        body,
        json!({
            "name": "Spotifice",
            "serial": 1,
            "updated_ms": null,
            "source": APP,
            "servers": servers,
            "replica_groups": {
                "MediaServerGroup": { "load-balancing": "ordered", "n-replicas": 0 },
            },
        })
    );

    // Adding it twice is a conflict.
    let (status, body) = admin
        .post(paths::APPLICATIONS, json!({ "source": APP }))
        .await;
    assert_eq!(
        (status, body),
        refused(
            StatusCode::CONFLICT,
            "application 'Spotifice' already exists; use update"
        )
    );
}

#[tokio::test]
async fn locating_an_unknown_id_is_a_404() {
    let tmp = tempfile::tempdir().unwrap();
    let app = router(tmp.path()).await;
    let path = paths::fill(paths::LOCATE, &["Nowhere"]);
    let (status, body) = call(&app, Method::GET, &path, &[], None).await;
    assert_eq!(
        (status, body),
        refused(
            StatusCode::NOT_FOUND,
            "unknown adapter or replica group 'Nowhere'"
        )
    );
}

#[tokio::test]
async fn a_node_route_needs_the_cluster_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let app = router(tmp.path()).await;
    let path = paths::fill(paths::NODE_REGISTER, &["node1"]);
    let register = serde_json::to_value(register_body(vec![])).unwrap();
    for headers in [vec![], vec![(grid_proto::SECRET_HEADER, "wrong")]] {
        let (status, body) =
            call(&app, Method::POST, &path, &headers, Some(register.clone())).await;
        assert_eq!(
            (status, body),
            refused(StatusCode::UNAUTHORIZED, "unknown cluster secret")
        );
    }
    // With the secret the node registers and gets its (empty) server set.
    let (status, body) = call(
        &app,
        Method::POST,
        &path,
        &[(grid_proto::SECRET_HEADER, "s3cret")],
        Some(register),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::OK,
            json!({ "assignment": { "serial": 0, "servers": [] }, "heartbeat_ms": 100 })
        )
    );
}
