//! Runs the real `gridadmin` binary against a small fake registry started in-process on port 0.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use grid_proto::api::{
    ApplicationSummary, ErrorBody, LoginReply, LoginRequest, ServerDetail, ServerState, ServerView,
};
use grid_proto::descriptor::{Activation, ServerDescriptor};

/// What the fake registry counts, and whether it treats its first token as expired.
#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    logins: AtomicUsize,
    expire_first_token: bool,
}

/// A fake registry: canned replies, and a count of every request it got.
struct FakeRegistry {
    url: String,
    counters: Arc<Counters>,
    /// The HOME of the gridadmin runs against it.
    home: tempfile::TempDir,
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(ErrorBody {
            error: message.to_owned(),
            detail: None,
        }),
    )
        .into_response()
}

/// Tokens are `t1`, `t2`, ... by login; `t1` is refused when it is set to expire.
fn authorized(counters: &Counters, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer t"))
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return false;
    };
    let issued = counters.logins.load(Ordering::SeqCst);
    (1..=issued).contains(&token) && !(counters.expire_first_token && token == 1)
}

fn media_server_1() -> ServerView {
    grid_testkit::views::server_view("MediaServer-1", ServerState::Active, Some(4321))
}

async fn sessions(State(c): State<Arc<Counters>>, Json(req): Json<LoginRequest>) -> Response {
    if req.password == "wrong" {
        return error(StatusCode::UNAUTHORIZED, "wrong user name or password");
    }
    let n = c.logins.fetch_add(1, Ordering::SeqCst) + 1;
    Json(LoginReply {
        token: format!("t{n}"),
        expires_in_s: 3600,
        role: grid_proto::access::Role::Admin,
        must_change_password: false,
    })
    .into_response()
}

async fn servers() -> Response {
    Json(vec![media_server_1()]).into_response()
}

async fn server(Path(id): Path<String>) -> Response {
    if id != "MediaServer-1" {
        return error(StatusCode::NOT_FOUND, &format!("unknown server '{id}'"));
    }
    Json(ServerDetail {
        view: media_server_1(),
        descriptor: ServerDescriptor {
            id: "MediaServer-1".into(),
            application: "Spotifice".into(),
            node: "node1".into(),
            exe: "media-server".into(),
            args: vec![],
            env: Default::default(),
            pwd: None,
            activation: Activation::Always,
            activation_timeout_ms: 10_000,
            deactivation_timeout_ms: 5_000,
            log: Some("mediaserver1.log".into()),
            adapters: vec![],
        },
    })
    .into_response()
}

async fn applications() -> Response {
    Json(vec![ApplicationSummary {
        name: "Spotifice".into(),
        serial: 1,
        servers: 1,
        updated_ms: 1_000,
    }])
    .into_response()
}

/// The fake MediaServer's URL, once a test started it.
static MEDIA_SERVER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `MediaServerGroup`: the fake MediaServer, and one that is down.
async fn locate(Path(id): Path<String>) -> Response {
    if id != "MediaServerGroup" {
        return error(StatusCode::NOT_FOUND, &format!("unknown adapter '{id}'"));
    }
    let live = MEDIA_SERVER.get().cloned().unwrap_or_default();
    Json(serde_json::json!({
        "id": id, "kind": "replica-group",
        "endpoints": [
            {"adapter": "MediaServer-1.Adapter", "server": "MediaServer-1", "endpoint": live},
            {"adapter": "MediaServer-2.Adapter", "server": "MediaServer-2",
             "endpoint": "http://127.0.0.1:1"},
        ]
    }))
    .into_response()
}

fn lounge() -> serde_json::Value {
    serde_json::json!({
        "name": "lounge", "kind": "playlist", "description": "Ambient, slowly",
        "genre": "Ambient", "bitrate_kbps": 128, "metaint": 16000, "listeners": 3,
        "listeners_peak": 12, "joins": 40, "bytes_out": 2048, "cut_offs": 0,
        "title": "Vega Lines - Night Transit",
        "source": {"state": "playing", "upstream": null, "track_id": "00000000000000a1",
                   "reconnects": 0, "segments": 900, "gaps": 0, "duplicates": 0},
        "uptime_ms": 303_000
    })
}

/// Serves `app` on 127.0.0.1:0 from a thread of its own, for the life of the test process;
/// where it listens.
fn serve_in_thread(app: Router) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel::<SocketAddr>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().expect("the fake server started")
}

/// A fake MediaServer with one channel, `lounge` (no login: MediaServers have none).
fn start_media_server() -> String {
    MEDIA_SERVER
        .get_or_init(|| {
            let app = Router::new()
                .route(
                    "/v1/channels",
                    get(|| async { Json(serde_json::json!([lounge()])) }),
                )
                .route(
                    "/v1/channels/{name}",
                    get(|Path(name): Path<String>| async move {
                        if name == "lounge" {
                            Json(lounge()).into_response()
                        } else {
                            error(StatusCode::NOT_FOUND, &format!("no such channel: {name}"))
                        }
                    }),
                );
            format!("http://{}", serve_in_thread(app))
        })
        .clone()
}

/// Counts every request and checks the token on every route but the login.
async fn gate(State(c): State<Arc<Counters>>, req: Request, next: Next) -> Response {
    c.requests.fetch_add(1, Ordering::SeqCst);
    if req.uri().path() != "/v1/sessions" && !authorized(&c, req.headers()) {
        return error(StatusCode::UNAUTHORIZED, "your session has expired");
    }
    next.run(req).await
}

impl FakeRegistry {
    /// Serves on 127.0.0.1:0 from a thread of its own, for the life of the test process.
    fn start() -> Self {
        Self::start_with(Counters::default())
    }

    fn start_with(counters: Counters) -> Self {
        let counters = Arc::new(counters);
        let app = Router::new()
            .route("/v1/sessions", post(sessions))
            .route("/v1/servers", get(servers))
            .route("/v1/servers/{id}", get(server))
            .route("/v1/locate/{id}", get(locate))
            .route(
                "/v1/applications",
                get(applications).post(|| async {
                    error(StatusCode::CONFLICT, "the fake registry adds nothing")
                }),
            )
            .layer(middleware::from_fn_with_state(counters.clone(), gate))
            .with_state(counters.clone());
        let addr = serve_in_thread(app);
        Self {
            url: format!("http://{addr}"),
            counters,
            home: tempfile::tempdir().expect("a home folder"),
        }
    }

    fn home(&self) -> &std::path::Path {
        self.home.path()
    }

    /// Pipes `input` into the shell, with `extra` flags.
    fn shell(&self, extra: &[&str], input: &str) -> Output {
        shell(self.home(), &self.url, extra, input)
    }

    fn requests(&self) -> usize {
        self.counters.requests.load(Ordering::SeqCst)
    }
}

/// `gridadmin` with a clean environment and a throwaway HOME.
fn gridadmin(home: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gridadmin"));
    cmd.args(args)
        .env_remove("GRID_USER")
        .env_remove("GRID_PASSWORD")
        .env_remove("GRID_REGISTRY_URL")
        .env_remove("RUST_LOG")
        .env("HOME", home)
        .stdin(Stdio::null());
    cmd
}

impl FakeRegistry {
    /// `gridadmin -u admin -p admin --registry URL` and `args`, in the fake's home.
    fn as_admin(&self, args: &[&str]) -> Output {
        let login = ["-u", "admin", "-p", "admin", "--registry", &self.url];
        run(self.home(), &[&login[..], args].concat())
    }
}

fn run(home: &std::path::Path, args: &[&str]) -> Output {
    gridadmin(home, args).output().expect("gridadmin runs")
}

/// Asserts gridadmin's exit code, and its stdout and stderr to the byte.
fn assert_output(out: &Output, code: i32, stdout: &str, stderr: &str) {
    assert_eq!(
        (
            out.status.code(),
            text(&out.stdout).as_str(),
            text(&out.stderr).as_str()
        ),
        (Some(code), stdout, stderr)
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn server_state_prints_exactly_the_state_line() {
    let reg = FakeRegistry::start();
    let out = reg.as_admin(&["-e", "server state MediaServer-1"]);
    assert_output(&out, 0, "active (pid 4321)\n", "");
}

#[test]
fn wrong_password_is_one_error_line() {
    let reg = FakeRegistry::start();
    let out = run(
        reg.home(),
        &[
            "-u",
            "admin",
            "-p",
            "wrong",
            "--registry",
            &reg.url,
            "-e",
            "server list",
        ],
    );
    assert_output(&out, 1, "", "error: wrong user name or password\n");
}

#[test]
fn unreachable_registry_is_one_error_line() {
    // A port nobody listens on: bind it, then let it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let home = tempfile::tempdir().unwrap();
    let out = run(
        home.path(),
        &[
            "-u",
            "admin",
            "-p",
            "admin",
            "--registry",
            &url,
            "-e",
            "server list",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("error: registry at {url} is unreachable: ")),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn unknown_server_is_the_registry_message() {
    let reg = FakeRegistry::start();
    let out = reg.as_admin(&["-e", "server state Nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), "error: unknown server 'Nope'\n");
}

#[test]
fn several_commands_stop_at_the_first_failure() {
    let reg = FakeRegistry::start();
    let out = reg.as_admin(&[
        "-e",
        "server state MediaServer-1",
        "-e",
        "server pid Nope",
        "-e",
        "application list",
    ]);
    assert_output(
        &out,
        1,
        "active (pid 4321)\n",
        "error: unknown server 'Nope'\n",
    );
}

#[test]
fn json_prints_the_registry_reply() {
    let reg = FakeRegistry::start();
    let out = reg.as_admin(&["--json", "-e", "server list"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["id"], "MediaServer-1");
    assert_eq!(v[0]["runtime"]["pid"], 4321);

    // The flags anywhere, and a command's own --json for that command alone.
    let out = run(
        reg.home(),
        &[
            "-e",
            "server list --json",
            "--registry",
            &reg.url,
            "-u",
            "admin",
            "-e",
            "server list",
            "-p",
            "admin",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let (json, table) = stdout.split_at(stdout.rfind("]\n").expect("a JSON array") + 2);
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v[0]["id"], "MediaServer-1");
    assert!(table.starts_with("ID"), "then the table: {table}");
}

#[test]
fn a_bad_descriptor_fails_before_the_registry_is_contacted() {
    let reg = FakeRegistry::start();
    let file = reg.home().join("bad.toml");
    std::fs::write(&file, "name = \"Spotifice\"\n[nodes.node1]\nbogus = true\n").unwrap();
    let out = reg.as_admin(&["-e", &format!("application add {}", file.display())]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error: invalid descriptor "), "{stderr}");
    assert!(stderr.contains("bogus"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let missing = reg.home().join("missing.toml");
    let out = reg.as_admin(&["-e", &format!("application update {}", missing.display())]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: cannot read {}: No such file or directory\n",
            missing.display()
        )
    );
    assert_eq!(reg.requests(), 0, "the registry was contacted");
}

/// Pipes `input` into the shell.
fn shell(home: &std::path::Path, url: &str, extra: &[&str], input: &str) -> Output {
    let mut args = vec!["--registry", url];
    args.extend_from_slice(extra);
    let mut child = gridadmin(home, &args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_shell_reads_commands_from_a_pipe() {
    let reg = FakeRegistry::start();
    let out = reg.shell(
        &["-u", "admin", "-p", "admin"],
        "application list\nexit\nserver list\n",
    );
    assert_output(&out, 0, "Spotifice\n", "");
    assert!(
        !reg.home().join(".gridadmin_history").exists(),
        "no history without a terminal"
    );
}

#[test]
fn the_shell_survives_errors_and_asks_for_credentials() {
    let reg = FakeRegistry::start();
    // No -u/-p: the first two lines are the user and the password; end of input quits.
    let out = reg.shell(
        &[],
        "admin\nadmin\nserver state Nope\nserver frobnicate\n\nserver state MediaServer-1\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "active (pid 4321)\n");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: unknown server 'Nope'\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("unrecognized subcommand 'frobnicate'"),
        "{stderr}"
    );
}

#[test]
fn the_shell_quits_on_a_wrong_password() {
    let reg = FakeRegistry::start();
    let out = reg.shell(&["-u", "admin", "-p", "wrong"], "application list\n");
    assert_output(&out, 1, "", "error: wrong user name or password\n");
}

#[test]
fn help_needs_no_registry() {
    let home = tempfile::tempdir().unwrap();
    let out = run(home.path(), &["-e", "help server"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    for word in ["state", "start", "stop", "log"] {
        assert!(stdout.contains(word), "{word} missing from:\n{stdout}");
    }
}

#[test]
fn the_shell_logs_in_again_when_the_session_expires() {
    let reg = FakeRegistry::start_with(Counters {
        expire_first_token: true,
        ..Counters::default()
    });
    let out = reg.shell(
        &["-u", "admin", "-p", "admin"],
        "server state MediaServer-1\nserver pid MediaServer-1\n",
    );
    assert_eq!(text(&out.stderr), "");
    assert_eq!(text(&out.stdout), "active (pid 4321)\n4321\n");
    assert_eq!(reg.counters.logins.load(Ordering::SeqCst), 2);
}

#[test]
fn channel_list_and_show_ask_every_media_server() {
    start_media_server();
    let reg = FakeRegistry::start();
    let auth = ["-u", "admin", "-p", "admin", "--registry", &reg.url];
    let out = run(reg.home(), &[&auth[..], &["-e", "channel list"]].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(
        lines.next(),
        Some(
            "SERVER         CHANNEL  KIND      LISTENERS  PEAK  BYTES-OUT  CUT-OFFS  SOURCE   TITLE"
        )
    );
    assert_eq!(
        lines.next(),
        Some(
            "MediaServer-1  lounge   playlist  3          12    2.0 KiB    0         playing  Vega Lines - Night Transit"
        )
    );
    let down = lines.next().unwrap_or_default();
    assert!(down.starts_with("MediaServer-2: no answer ("), "{stdout}");
    assert_eq!(lines.next(), None);

    let out = run(
        reg.home(),
        &[&auth[..], &["--json", "-e", "channel list"]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["channels"][0]["listeners_peak"], 12);
    assert!(v[1]["error"].is_string(), "{v}");

    let out = run(
        reg.home(),
        &[&auth[..], &["-e", "channel show lounge"]].concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("MediaServer-1:\n  name:"), "{stdout}");
    assert!(stdout.contains("  listeners peak: 12\n"), "{stdout}");
    assert!(stdout.contains("MediaServer-2: no answer"), "{stdout}");

    let out = run(
        reg.home(),
        &[
            &auth[..],
            &["-e", "channel show lounge --server MediaServer-1"],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("MediaServer-2"));

    let out = run(
        reg.home(),
        &[&auth[..], &["-e", "channel show jazz"]].concat(),
    );
    assert!(!out.status.success());
    assert_eq!(
        text(&out.stderr),
        "error: no channel named 'jazz' on any MediaServer of MediaServerGroup\n"
    );
    let out = run(
        reg.home(),
        &[
            &auth[..],
            &["-e", "channel show lounge --server MediaServer-9"],
        ]
        .concat(),
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("MediaServer-9 is not a live MediaServer of MediaServerGroup"),
        "{}",
        text(&out.stderr)
    );
}
