//! The registry over HTTPS with its own grid CA, and gridadmin trusting it: what crosses the
//! wire is encrypted, a client without the CA refuses the registry, and a plain HTTP client
//! gets nothing.

use std::process::{Command, Stdio};
use std::time::Duration;

use grid_testkit::Killed;
use grid_testkit::process::addr_file;

/// `gridregistry` in `dir` (data in `dir/registry_data`, stderr in `dir/registry.log`) with
/// `flags`: the process and its bound address.
fn registry(dir: &std::path::Path, flags: &[&str]) -> (Killed, String) {
    let addr_path = dir.join("registry.addr");
    let mut cmd = Command::new(grid_testkit::bin("gridregistry"));
    cmd.args(["--listen", "127.0.0.1:0"])
        .args(flags)
        .arg("--data")
        .arg(dir.join("registry_data"))
        .arg("--addr-file")
        .arg(&addr_path)
        .env("GRID_ADMIN_PASSWORD", "admin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("registry.log")).expect("a log"));
    let mut registry = Killed(cmd.spawn().expect("gridregistry starts"));
    let addr = addr_file(&mut registry.0, &addr_path, Duration::from_secs(20));
    (registry, addr)
}

#[test]
fn gridadmin_talks_to_a_tls_registry_that_shows_a_certificate_of_the_grid_ca() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("registry_data");
    let (_registry, addr) = registry(dir.path(), &["--tls"]);
    let ca = data.join("ca.pem");
    let key_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data.join("ca.key"))
            .expect("the CA key")
            .permissions(),
    );
    assert_eq!(key_mode & 0o777, 0o600);

    let gridadmin = |url: &str, ca: Option<&std::path::Path>| {
        let mut c = Command::new(grid_testkit::bin("gridadmin"));
        c.args([
            "-u",
            "admin",
            "-p",
            "admin",
            "--registry",
            url,
            "-e",
            "registry show",
        ])
        .env_remove("GRID_CA_FILE")
        .stdin(Stdio::null());
        if let Some(ca) = ca {
            c.arg("--ca").arg(ca);
        }
        c.output().expect("gridadmin runs")
    };
    let https = format!("https://{addr}");
    let ok = gridadmin(&https, Some(&ca));
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains(&addr), "{stdout}");

    // Without the grid CA the certificate is not trusted; plain HTTP gets no answer.
    let untrusted = gridadmin(&https, None);
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(!untrusted.status.success(), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
    let plain = gridadmin(&format!("http://{addr}"), Some(&ca));
    assert!(!plain.status.success());

    // The event stream too: `watch` prints the snapshot it reads over TLS.
    let mut watch = Command::new(grid_testkit::bin("gridadmin"));
    watch
        .args([
            "-u",
            "admin",
            "-p",
            "admin",
            "--registry",
            &https,
            "-e",
            "watch",
        ])
        .arg("--ca")
        .arg(&ca)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut watch = Killed(watch.spawn().expect("gridadmin watch runs"));
    let stdout = watch.0.stdout.take().expect("its stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let line = std::io::BufRead::lines(std::io::BufReader::new(stdout)).next();
        let _ = tx.send(line);
    });
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .ok()
        .flatten()
        .and_then(Result::ok)
        .expect("a first line from watch within 30 s");
    assert!(first.contains("snapshot"), "{first}");
    drop(watch);

    // A bad --ca file is named.
    let bad = dir.path().join("bad.pem");
    std::fs::write(&bad, "not a certificate").expect("write");
    let out = gridadmin(&https, Some(&bad));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--ca:") && stderr.contains("bad.pem"),
        "{stderr}"
    );

    let log = std::fs::read_to_string(dir.path().join("registry.log")).expect("the log");
    assert!(log.contains("TLS on"), "{log}");
    assert!(!log.contains("PRIVATE KEY"), "{log}");
}

/// A packet capture of loopback TCP on some ports, by the real tcpdump.
struct Capture {
    child: std::process::Child,
    file: std::path::PathBuf,
}

impl Capture {
    /// Captures `ports` into `dir/name.pcap`, once tcpdump says it listens.
    fn start(dir: &std::path::Path, name: &str, ports: &[u16]) -> Self {
        use std::io::BufRead;
        let file = dir.join(format!("{name}.pcap"));
        let filter = ports
            .iter()
            .map(|p| format!("tcp port {p}"))
            .collect::<Vec<_>>()
            .join(" or ");
        let mut child = Command::new("tcpdump")
            .args(["--immediate-mode", "-i", "lo", "-U", "-n", "-s", "0", "-w"])
            .arg(&file)
            .arg(&filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tcpdump is installed (.ci/run installs it)");
        let stderr = child.stderr.take().expect("tcpdump's stderr");
        let mut lines = std::io::BufReader::new(stderr).lines();
        let ready = lines.any(|l| l.is_ok_and(|l| l.contains("listening on")));
        assert!(ready, "tcpdump did not start");
        Self { child, file }
    }

    /// Stops the capture (SIGTERM, so it writes what it holds): the bytes captured.
    fn stop(mut self) -> Vec<u8> {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
        std::fs::read(&self.file).expect("the capture")
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        grid_testkit::kill9(self.child.id());
        let _ = self.child.wait();
    }
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_capture_of_plain_http_shows_the_secret_the_tls_one_hides() {
    // The control: the same capture on a registry without TLS sees the cluster secret go by.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("registry_data");
    let (_registry, addr) = registry(dir.path(), &[]);
    let port: u16 = addr
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port");
    let secret = std::fs::read_to_string(data.join("cluster.secret")).expect("the secret");
    let capture = Capture::start(dir.path(), "plain", &[port]);
    let url = format!(
        "http://{addr}{}",
        grid_proto::paths::fill(grid_proto::paths::NODE_HEARTBEAT, &["n"])
    );
    let status = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            reqwest::Client::new()
                .post(url)
                .header(grid_proto::SECRET_HEADER, secret.trim())
                .json(&serde_json::json!({}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
    assert!(status.is_ok(), "{status:?}");
    let bytes = capture.stop();
    assert!(
        holds(&bytes, secret.trim()),
        "the plain capture holds the secret"
    );
}

/// The servers a grid's node started, found by the registry URL in their environment, and
/// killed by process group when dropped.
struct ServersOf(String);

impl Drop for ServersOf {
    fn drop(&mut self) {
        let env = format!("{}={}", grid_proto::server_env::REGISTRY_URL, self.0);
        for pid in grid_testkit::process::with_env(&[env]) {
            grid_testkit::kill_group(pid);
            grid_testkit::kill9(pid);
        }
    }
}

#[test]
fn a_node_joins_a_tls_registry_and_its_servers_report_over_tls() {
    use grid_proto::descriptor::LoadBalancing;
    use grid_proto::media::SERVER_GROUP;
    use grid_testkit::app::{App, media_server, server};

    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("registry_data");
    let (_registry, addr) = registry(dir.path(), &["--tls", "--heartbeat-ms", "200"]);
    let url = format!("https://{addr}");
    let _servers = ServersOf(url.clone());
    let ca = data.join("ca.pem");

    // Without the CA the node refuses to start, saying what it needs.
    let out = Command::new(grid_testkit::bin("gridnode"))
        .args(["--name", "node1", "--registry", &url])
        .args(["--secret-file", "registry_data/cluster.secret"])
        .env_remove("GRID_CA_FILE")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("gridnode runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --ca FILE"));

    let node_addr = dir.path().join("node1.addr");
    let mut node = Command::new(grid_testkit::bin("gridnode"));
    node.args([
        "--name",
        "node1",
        "--registry",
        &url,
        "--data",
        "node1_data",
    ])
    .args(["--secret-file", "registry_data/cluster.secret"])
    .arg("--ca")
    .arg(&ca)
    .arg("--addr-file")
    .arg(&node_addr)
    .current_dir(dir.path())
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(dir.path().join("node1.log")).expect("a log"));
    let mut node = Killed(node.spawn().expect("gridnode starts"));
    addr_file(&mut node.0, &node_addr, Duration::from_secs(20));

    let library = dir.path().join("media");
    std::fs::create_dir_all(&library).expect("a library");
    let app = App::new("Secure")
        .group(SERVER_GROUP, LoadBalancing::RoundRobin)
        .template(
            "MediaServer",
            media_server(&["--library", &library.display().to_string()]),
        )
        .template(
            "Sleeper",
            server("Sleeper-${index}", "/bin/sh", &["-c", "exec sleep 1000"]),
        )
        .instance("node1", "MediaServer", 1)
        .instance("node1", "Sleeper", 1)
        .toml();
    let file = dir.path().join("secure.toml");
    std::fs::write(&file, app).expect("the descriptor");
    let admin = |cmd: &str| {
        Command::new(grid_testkit::bin("gridadmin"))
            .args(["-u", "admin", "-p", "admin", "--registry", &url, "-e", cmd])
            .arg("--ca")
            .arg(&ca)
            .stdin(Stdio::null())
            .output()
            .expect("gridadmin runs")
    };
    let out = admin(&format!("application add {}", file.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The MediaServer reports its readiness to the node over TLS; both end up active.
    let list = grid_testkit::wait_until("both servers active", Duration::from_secs(60), || {
        let out = admin("server list");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (text.lines().filter(|l| l.contains("active")).count() >= 2).then_some(text)
    });
    assert!(
        list.contains("MediaServer-1") && list.contains("Sleeper-1"),
        "{list}"
    );
    let nodes = String::from_utf8_lossy(&admin("node list --long").stdout).into_owned();
    assert!(
        nodes.contains("https://"),
        "the node advertises an https endpoint: {nodes}"
    );

    // The node keeps its key and certificate private, and the registry only signed a request.
    let key = dir.path().join("node1_data/tls/node.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key).expect("key").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let registry_log = std::fs::read_to_string(dir.path().join("registry.log")).expect("log");
    assert!(
        registry_log.contains("issued a certificate"),
        "{registry_log}"
    );
    assert!(!registry_log.contains("PRIVATE KEY"));
}
