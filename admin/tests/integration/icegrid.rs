//! IceGrid XML descriptors through the real `gridadmin`: `config/spotifice.xml` on an empty
//! registry brings up the four servers exactly as `config/spotifice.toml` does, and a demo-style
//! application deploys with its warnings on stderr and in `--json`.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use grid_proto::api::ServerState;

use crate::media::library;
use grid_testkit::{Grid, wait_until};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    text(&o.stdout)
}

/// The grid's work dir laid out as the repository's root: `config/` and a `media/` library.
fn repository_layout(grid: &Grid) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = grid.dir().join("config");
    std::fs::create_dir_all(&config).unwrap();
    for name in ["spotifice.xml", "spotifice.toml", "channels.toml"] {
        std::fs::copy(root.join("config").join(name), config.join(name)).unwrap();
    }
    let media = grid.dir().join("media");
    std::fs::remove_dir(&media).unwrap();
    std::os::unix::fs::symlink(library(), &media).unwrap();
    config
}

const SPOTIFICE: [(&str, &str); 4] = [
    ("MediaServer-1", "node1"),
    ("MediaRender-1", "node1"),
    ("MediaServer-2", "node2"),
    ("MediaRender-2", "node2"),
];

const NO_CHANGE: &str = "application Spotifice (deployed)\n\
                         added:     -\n\
                         removed:   -\n\
                         changed:   -\n\
                         unchanged: MediaServer-1, MediaRender-1, MediaServer-2, MediaRender-2\n";

#[test]
fn spotifice_xml_deploys_and_runs_like_spotifice_toml() {
    let mut grid = Grid::new();
    let config = repository_layout(&grid);
    grid.start_node("node1");
    grid.start_node("node2");
    let xml = config.join("spotifice.xml").display().to_string();
    let toml = config.join("spotifice.toml").display().to_string();

    let o = grid.admin(&format!("application add {xml}"));
    let out = ok(&o);
    assert_eq!(
        text(&o.stderr),
        "",
        "spotifice.xml has nothing without an equivalent"
    );
    assert!(
        out.starts_with("application Spotifice added (serial 1)\n"),
        "{out}"
    );
    let mut pids = Vec::new();
    for (id, node) in SPOTIFICE {
        pids.push(grid.wait_active(id, None));
        let s = grid.server(id).unwrap();
        assert_eq!(
            (s.node.as_str(), s.runtime.state),
            (node, ServerState::Active)
        );
    }
    // n-replicas="0": every live MediaServer in a locate answer, as with the TOML.
    assert_eq!(grid.locate("MediaServerGroup").len(), 2);
    let described = ok(&grid.admin("application describe Spotifice"));
    assert!(
        described.contains(&format!(
            "# Translated by gridadmin from the IceGrid XML descriptor {xml}."
        )),
        "{described}"
    );

    // The TOML against what the XML deployed, then the XML against the deployed TOML.
    assert_eq!(
        ok(&grid.admin(&format!("application diff {toml}"))),
        NO_CHANGE
    );
    let updated = ok(&grid.admin(&format!("application update {toml}")));
    assert_eq!(
        updated,
        "application Spotifice updated (serial 2)\n  no server changes\n"
    );
    assert_eq!(
        ok(&grid.admin(&format!("application diff {xml}"))),
        NO_CHANGE
    );
    for ((id, _), pid) in SPOTIFICE.iter().zip(pids) {
        assert_eq!(
            grid.server(id).unwrap().runtime.pid,
            Some(pid),
            "{id} restarted"
        );
    }
}

const DEMO: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<icegrid>
  <application name="Sleepers">
    <server-template id="Sleeper">
      <parameter name="index"/>
      <parameter name="seconds" default="1000"/>
      <server id="Sleeper-${index}" exe="/bin/sh" activation="always" deactivation-timeout="2">
        <option>-c</option>
        <option>exec sleep ${seconds}</option>
        <env>SLEEPER=${server}</env>
        <property name="Identity" value="sleeper"/>
      </server>
    </server-template>
    <node name="node1">
      <description>the only node</description>
      <server-instance template="Sleeper" index="1"/>
      <server-instance template="Sleeper" index="2" seconds="2000"/>
    </node>
  </application>
</icegrid>
"#;

fn admin_json(grid: &Grid, cmd: &str) -> Output {
    grid.admin_with(&["--json"], cmd)
}

#[test]
fn a_demo_application_deploys_with_one_warning_line_per_element_left_out() {
    let mut grid = Grid::new();
    grid.start_node("node1");
    let file = grid.dir().join("sleepers.xml");
    std::fs::write(&file, DEMO).unwrap();
    let file = file.display().to_string();

    let o = admin_json(&grid, &format!("application add {file}"));
    let reply: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    let warnings = [
        (
            11,
            "<property name=\"Identity\"> of server-template Sleeper has no equivalent \
             (servers are configured by options and env); ignored",
        ),
        (
            15,
            "<description> of node node1 has no equivalent (only the application has one); \
             ignored",
        ),
    ];
    let lines: String = warnings
        .iter()
        .map(|(line, message)| format!("warning: {file}:{line}: {message}\n"))
        .collect();
    assert_eq!(text(&o.stderr), lines);
    assert_eq!(reply["name"], "Sleepers");
    assert_eq!(reply["serial"], 1);
    assert_eq!(
        reply["diff"]["added"],
        serde_json::json!(["Sleeper-1", "Sleeper-2"])
    );
    let json_warnings: Vec<_> = warnings
        .iter()
        .map(|(line, message)| serde_json::json!({"file": file, "line": line, "message": message}))
        .collect();
    assert_eq!(reply["warnings"], serde_json::json!(json_warnings));

    let p1 = grid.wait_active("Sleeper-1", None);
    let p2 = grid.wait_active("Sleeper-2", None);
    // Active once `sh` runs; it replaces itself with `sleep` a moment later.
    let execs = |pid: u32, want: &[u8]| {
        wait_until(
            &format!("{pid} to exec sleep"),
            Duration::from_secs(10),
            || (std::fs::read(format!("/proc/{pid}/cmdline")).ok()? == want).then_some(()),
        )
    };
    execs(p1, b"sleep\x001000\x00");
    execs(p2, b"sleep\x002000\x00");
    let environ = std::fs::read(format!("/proc/{p1}/environ")).unwrap();
    assert!(
        environ
            .split(|b| *b == 0)
            .any(|v| v == b"SLEEPER=Sleeper-1"),
        "SLEEPER is not in Sleeper-1's environment"
    );

    // A broken update: one error line naming the file, line and variable; nothing changes.
    let bad = grid.dir().join("bad.xml");
    std::fs::write(&bad, DEMO.replace("${seconds}", "${secs}")).unwrap();
    let o = grid.admin(&format!("application update {}", bad.display()));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!(
            "error: invalid descriptor {}:9: <option> of server-template Sleeper \
             (instantiated at line 16): undefined variable '${{secs}}'\n",
            bad.display()
        )
    );
    assert_eq!(grid.server("Sleeper-1").unwrap().runtime.pid, Some(p1));
    assert_eq!(grid.server("Sleeper-2").unwrap().runtime.pid, Some(p2));
}
