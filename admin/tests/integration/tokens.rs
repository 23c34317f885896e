//! A render's stream on a MediaServer of the grid, tried as a client on the network would:
//! opened, read or closed without the render's stream token (401), or with another render's
//! (403), refused; with its own, served.

use grid_proto::descriptor::LoadBalancing;
use grid_proto::media::SERVER_GROUP;
use grid_proto::secret::{self, Purpose};
use grid_testkit::Grid;
use grid_testkit::app::{App, media_render, media_server};

/// One request to `url`, with `token` as the stream token: the status and the error message.
fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut req = reqwest::Client::new().request(method, url);
        if let Some(t) = token {
            req = req.header(grid_proto::STREAM_TOKEN_HEADER, t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("an answer");
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        (
            status,
            body["error"].as_str().unwrap_or_default().to_owned(),
        )
    })
}

#[test]
fn a_renders_stream_needs_its_stream_token() {
    let mut grid = Grid::new();
    grid.start_node("node1");
    let library = grid.dir().join("media").display().to_string();
    let app = App::new("Tokens")
        .group(SERVER_GROUP, LoadBalancing::RoundRobin)
        .template("MediaServer", media_server(&["--library", &library]))
        .instance("node1", "MediaServer", 1)
        .toml();
    grid.deploy(&app);
    grid.wait_active("MediaServer-1", None);
    let endpoint = grid
        .block_on(async { grid.login().await?.locate(SERVER_GROUP).await })
        .expect("the group is located")
        .endpoints
        .first()
        .expect("one endpoint")
        .endpoint
        .clone();
    let secret =
        std::fs::read_to_string(grid.dir().join("registry_data/cluster.secret")).expect("secret");
    let key = secret::service_key(secret.trim());
    let own = secret::token(&key, Purpose::Stream, "MediaRender-1");
    let other = secret::token(&key, Purpose::Stream, "MediaRender-2");
    let open = serde_json::json!({ "track_id": "0123456789abcdef", "render_id": "MediaRender-1", "offset": 0 });
    let streams = format!("{endpoint}/v1/streams");
    let stream = format!("{endpoint}/v1/streams/MediaRender-1");
    let chunk = format!("{stream}/chunk?offset=0&size=1");

    let (status, message) = call(reqwest::Method::POST, &streams, None, Some(open.clone()));
    assert_eq!(status, 401, "{message}");
    assert_eq!(
        message,
        "the stream of MediaRender-1 needs its stream token (x-grid-stream-token)"
    );
    let (status, message) = call(
        reqwest::Method::POST,
        &streams,
        Some(&other),
        Some(open.clone()),
    );
    assert_eq!(
        (status, message.as_str()),
        (
            403,
            "refused: that is not the stream token of MediaRender-1"
        )
    );
    for url in [&chunk, &format!("{stream}/data?offset=0")] {
        assert_eq!(call(reqwest::Method::GET, url, None, None).0, 401, "{url}");
        assert_eq!(
            call(reqwest::Method::GET, url, Some(&other), None).0,
            403,
            "{url}"
        );
    }
    assert_eq!(call(reqwest::Method::DELETE, &stream, None, None).0, 401);
    assert_eq!(
        call(reqwest::Method::DELETE, &stream, Some(&other), None).0,
        403
    );

    // The render's own token gets past the check to the stream's own answers.
    let (status, message) = call(reqwest::Method::POST, &streams, Some(&own), Some(open));
    assert_eq!(status, 404, "{message}");
    assert!(message.contains("no such track"), "{message}");
    assert_eq!(call(reqwest::Method::GET, &chunk, Some(&own), None).0, 404);
    assert_eq!(
        call(reqwest::Method::DELETE, &stream, Some(&own), None).0,
        200
    );
}

/// `POST url` with `headers`: the status and the error message.
fn post(url: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut req = reqwest::Client::new()
            .post(url)
            .json(&serde_json::json!({}));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("an answer");
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        (
            status,
            body["error"].as_str().unwrap_or_default().to_owned(),
        )
    })
}

/// What the player itself answers a stop with nothing loaded: proof a request got past the gate.
fn player_says() -> (u16, String) {
    (409, "nothing loaded: there is nothing to stop".into())
}

#[test]
fn a_render_is_driven_only_by_operators() {
    let mut grid = Grid::new();
    grid.start_node("node1");
    let app = App::new("Renders")
        .template("MediaRender", media_render(&[]))
        .instance("node1", "MediaRender", 1)
        .toml();
    grid.deploy(&app);
    grid.wait_active("MediaRender-1", None);
    let endpoint = grid
        .block_on(async { grid.login().await?.locate("MediaRender-1.Adapter").await })
        .expect("the render is located")
        .endpoints
        .first()
        .expect("one endpoint")
        .endpoint
        .clone();
    let stop = format!("{endpoint}/v1/stop");
    let secret =
        std::fs::read_to_string(grid.dir().join("registry_data/cluster.secret")).expect("secret");
    let key = secret::service_key(secret.trim());

    // Anyone on the network: refused, and reading stays open.
    let (status, message) = post(&stop, &[]);
    assert_eq!(status, 401, "{message}");
    assert!(
        message.contains("driving MediaRender-1 needs an operator's session"),
        "{message}"
    );
    let other = secret::token(&key, Purpose::Control, "MediaRender-2");
    let (status, message) = post(&stop, &[(grid_proto::CONTROL_TOKEN_HEADER, &other)]);
    assert_eq!(
        (status, message.as_str()),
        (
            403,
            "refused: that is not the control token of MediaRender-1"
        )
    );
    let (status, _) = post(&stop, &[("authorization", "Bearer 0123456789")]);
    assert_eq!(status, 401);
    let status = grid.block_on(async {
        reqwest::get(format!("{endpoint}/v1/status"))
            .await
            .map(|r| r.status().as_u16())
    });
    assert_eq!(status.ok(), Some(200));

    // A viewer's session: refused by the render, and by the registry's gateway.
    let o = grid.admin("user add vera --role viewer");
    assert!(!o.status.success(), "no password on stdin: refused");
    let admin = grid.block_on(grid.login()).expect("admin");
    grid.block_on(admin.post::<_, serde_json::Value>(
        grid_proto::paths::USERS,
        &serde_json::json!({ "name": "vera", "role": "viewer", "password": "vera-first-pw" }),
    ))
    .expect("vera added");
    let vera: grid_proto::api::LoginReply = grid
        .block_on(
            grid_proto::client::Client::new(grid.url(), "registry")
                .expect("a client")
                .post(
                    grid_proto::paths::SESSIONS,
                    &serde_json::json!({ "user": "vera", "password": "vera-first-pw" }),
                ),
        )
        .expect("vera logs in");
    let bearer = format!("Bearer {}", vera.token);
    let (status, message) = post(&stop, &[("authorization", &bearer)]);
    assert_eq!(status, 403, "{message}");
    assert!(
        message.contains("'vera' is a viewer; driving MediaRender-1 needs the operator role"),
        "{message}"
    );
    let gateway = format!("{}/v1/gateway/MediaRender-1.Adapter/v1/stop", grid.url());
    let (status, message) = post(&gateway, &[("authorization", &bearer)]);
    assert_eq!(status, 403, "{message}");

    // An operator's session and the admin's, straight or through the gateway, and the
    // render's own control token: let through to the player, which answers for itself (it
    // has nothing loaded).
    grid.block_on(admin.post::<_, serde_json::Value>(
        grid_proto::paths::USERS,
        &serde_json::json!({ "name": "otto", "role": "operator", "password": "otto-first-pw" }),
    ))
    .expect("otto added");
    for (user, password) in [("otto", "otto-first-pw"), ("admin", "admin")] {
        let login: grid_proto::api::LoginReply = grid
            .block_on(
                grid_proto::client::Client::new(grid.url(), "registry")
                    .expect("a client")
                    .post(
                        grid_proto::paths::SESSIONS,
                        &serde_json::json!({ "user": user, "password": password }),
                    ),
            )
            .expect("logs in");
        let bearer = format!("Bearer {}", login.token);
        for url in [&stop, &gateway] {
            let answer = post(url, &[("authorization", &bearer)]);
            assert_eq!(answer, player_says(), "{user} at {url}");
        }
    }
    let own = secret::token(&key, Purpose::Control, "MediaRender-1");
    let answer = post(&stop, &[(grid_proto::CONTROL_TOKEN_HEADER, &own)]);
    assert_eq!(answer, player_says());

    // media-control without a user says how to give one.
    let out = std::process::Command::new(grid.bin("media-control"))
        .args(["--registry", grid.url(), "stop", "MediaRender-1"])
        .env_remove("GRID_USER")
        .env_remove("GRID_PASSWORD")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("media-control runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("give media-control an operator's -u USER -p PASSWORD"),
        "{stderr}"
    );
}
