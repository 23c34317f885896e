//! The node as a service: its config file, and servers left running when it stops.

use std::ffi::OsStr;
use std::process::Command;

use crate::helper::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_stop_leave_keeps_servers_running_for_the_next_node_to_adopt() {
    let (mut env, _seen) = assigned("leave", vec![sh("Keep", "exec sleep 1000", 2000)]).await;
    let config = env.dir.path().join("node.toml");
    std::fs::write(
        &config,
        "# as in a service's node.toml\non-stop = \"leave\"\n",
    )
    .unwrap();
    let with_config = [OsStr::new("--config"), config.as_os_str()];

    let node = env.start_node_with(&with_config).await;
    let pid = wait_active(&node, "Keep").await.pid.unwrap();
    let started = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let status = env.terminate_node().await;
    assert!(status.success(), "{status:?}\n{}", env.node_log());
    assert!(alive(pid), "the server stopped with its node");
    assert_eq!(procs_of(&env.name, Some("Keep")), vec![pid]);
    assert!(
        env.node_log()
            .contains("leaving the servers running for the next node to adopt"),
        "{}",
        env.node_log()
    );
    assert!(env.dir.path().join("data/run/Keep.json").is_file());

    let node = env.start_node_with(&with_config).await;
    let adopted = wait_for("Keep adopted", async || active(&node, "Keep").await).await;
    assert_eq!((adopted.pid, adopted.restart_count), (Some(pid), 0));
    assert!(env.node_log().contains("adopted running server"));
    // Same process, not a new one that reused the pid: the start time in field 22 is the same.
    let now = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    assert_eq!(start_field(&now), start_field(&started));

    // The flag wins over the file: this node stops its (adopted) server when it stops.
    assert!(env.terminate_node().await.success());
    let stop_flag = [with_config[0], with_config[1], OsStr::new("--on-stop=stop")];
    let node = env.start_node_with(&stop_flag).await;
    let again = wait_for("Keep adopted again", async || active(&node, "Keep").await).await;
    assert_eq!(again.pid, Some(pid));
    let status = env.terminate_node().await;
    assert!(status.success(), "{status:?}");
    assert!(!alive(pid), "--on-stop=stop left the server running");
    assert!(procs_of(&env.name, None).is_empty());
    assert!(!env.dir.path().join("data/run/Keep.json").exists());
}

/// Field 22 (start time) of a `/proc/PID/stat` line.
fn start_field(stat: &str) -> Option<&str> {
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(19)
}

#[test]
fn a_bad_config_file_is_refused_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    let cases = [
        (
            "name = \"n1\"\non-stop = \"keep\"\n",
            ":2: key 'on-stop': invalid value 'keep': expected one of stop, leave",
        ),
        (
            "name = \"n1\"\n\n# retries\nbackoff_max_ms = 100\n",
            ":4: key 'backoff_max_ms': unknown key; keys are spelled like the flags: \
             'backoff-max-ms'",
        ),
        (
            "name = \"n1\"\nport = \"4062\"\n",
            ":2: key 'port': must be an integer, not a string",
        ),
    ];
    for (text, what) in cases {
        std::fs::write(&config, text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_gridnode"))
            .arg("--config")
            .arg(&config)
            .args(["--secret", "s"])
            .env_remove("GRID_NODE_NAME")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{text}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("error: {}{what}\n", config.display()),
            "{text}"
        );
    }
}
