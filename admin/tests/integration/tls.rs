//! The registry over HTTPS with its own grid CA, and gridadmin trusting it: what crosses the
//! wire is encrypted, a client without the CA refuses the registry, and a plain HTTP client
//! gets nothing.

use std::process::{Command, Stdio};
use std::time::Duration;

use grid_testkit::Killed;
use grid_testkit::process::addr_file;

#[test]
fn gridadmin_talks_to_a_tls_registry_that_shows_a_certificate_of_the_grid_ca() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("registry_data");
    let addr_path = dir.path().join("registry.addr");
    let log = std::fs::File::create(dir.path().join("registry.log")).expect("a log");
    let mut cmd = Command::new(grid_testkit::bin("gridregistry"));
    cmd.args(["--listen", "127.0.0.1:0", "--tls"])
        .arg("--data")
        .arg(&data)
        .arg("--addr-file")
        .arg(&addr_path)
        .env("GRID_ADMIN_PASSWORD", "admin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    let mut registry = Killed(cmd.spawn().expect("gridregistry starts"));
    let addr = addr_file(&mut registry.0, &addr_path, Duration::from_secs(20));
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
