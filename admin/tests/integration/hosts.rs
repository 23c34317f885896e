//! A grid over three hosts: the registry, node1 and node2 each in a network namespace with an
//! address of its own, joined by a bridge. Needs root and iproute2 (CI has both); elsewhere the
//! test says it is skipped.

use std::process::{Command, Stdio};
use std::time::Duration;

use grid_proto::client::Client;
use grid_proto::live::{ChannelStats, SourceState};
use grid_proto::paths;

use crate::cluster::app;
use grid_testkit::{Grid, Place, kill9, wait_until};

/// The namespaces, bridge and links of one test run; all removed on drop.
struct Hosts {
    tag: String,
    subnet: String,
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Hosts {
    fn bridge(&self) -> String {
        format!("sg{}b", self.tag)
    }
    fn ns(&self, host: &str) -> String {
        format!("sg{}{host}", self.tag)
    }
    fn link(&self, host: &str) -> String {
        format!("sg{}{host}v", self.tag)
    }
    fn addr(&self, n: u8) -> String {
        format!("{}.{n}", self.subnet)
    }

    /// Builds three hosts (`r`, `a`, `b`) on one bridge; the test's namespace gets `.254`.
    fn build() -> Option<Self> {
        let id = std::process::id();
        let hosts = Self {
            tag: format!("{:05}", id % 100_000),
            subnet: format!("10.213.{}", 20 + id % 200),
        };
        let br = hosts.bridge();
        if !ip(&["link", "add", &br, "type", "bridge"]) {
            return None;
        }
        let mut ok = ip(&[
            "addr",
            "add",
            &format!("{}/24", hosts.addr(254)),
            "dev",
            &br,
        ]) && ip(&["link", "set", &br, "up"]);
        for (host, n) in [("r", 1u8), ("a", 2), ("b", 3)] {
            let (ns, link) = (hosts.ns(host), hosts.link(host));
            ok = ok
                && ip(&["netns", "add", &ns])
                && ip(&[
                    "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ])
                && ip(&["link", "set", &link, "master", &br])
                && ip(&["link", "set", &link, "up"])
                && ip(&[
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{}/24", hosts.addr(n)),
                    "dev",
                    "eth0",
                ])
                && ip(&["-n", &ns, "link", "set", "eth0", "up"])
                && ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        assert!(ok, "could not build the test hosts");
        Some(hosts)
    }

    fn place(&self, host: &str, n: u8) -> Place {
        Place {
            netns: Some(self.ns(host)),
            address: self.addr(n),
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in ["r", "a", "b"] {
            ip(&["link", "del", &self.link(host)]);
            ip(&["netns", "del", &self.ns(host)]);
        }
        ip(&["link", "del", &self.bridge()]);
    }
}

#[test]
fn grid_over_three_hosts() {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout == b"0\n");
    if !root || !ip(&["-V"]) {
        eprintln!(
            "grid_over_three_hosts skipped: it needs root and iproute2 to build network namespaces"
        );
        return;
    }
    let Some(hosts) = Hosts::build() else {
        eprintln!("grid_over_three_hosts skipped: this machine refuses network namespaces");
        return;
    };
    // The grid is declared after the hosts so its processes die before the namespaces go.
    let mut grid = Grid::with(grid_testkit::grid::Options {
        registry_at: hosts.place("r", 1),
        ..Default::default()
    });
    grid.start_node_at("node1", &hosts.place("a", 2));
    grid.start_node_at("node2", &hosts.place("b", 3));
    // Each server plays `tone` and relays the other's (`grid:`), across hosts.
    let channels = grid.dir().join("channels.toml");
    std::fs::write(
        &channels,
        "[[channel]]\nname = \"tone\"\n\
         [[channel]]\nname = \"tone-relay\"\nsource = \"grid:MediaServerGroup/live/tone\"\n",
    )
    .expect("channels.toml");
    let desc = app(grid.dir(), &["--channels", &channels.display().to_string()]);
    grid.deploy(&desc);
    let p1 = grid.wait_active("MediaServer-1", None);
    let p2 = grid.wait_active("MediaServer-2", None);

    // Each server binds and advertises its own host's address.
    let ep1 =
        grid.server("MediaServer-1").unwrap().runtime.endpoints["MediaServer-1.Adapter"].clone();
    let ep2 =
        grid.server("MediaServer-2").unwrap().runtime.endpoints["MediaServer-2.Adapter"].clone();
    assert!(
        ep1.starts_with(&format!("http://{}:", hosts.addr(2))),
        "{ep1}"
    );
    assert!(
        ep2.starts_with(&format!("http://{}:", hosts.addr(3))),
        "{ep2}"
    );
    let mut both = grid.locate("MediaServerGroup");
    both.sort();
    assert_eq!(both, [ep1.clone(), ep2.clone()]);

    // The relays found each other's host through the registry, joined as children under their
    // host addresses, and each parent confirmed its child across the hosts (`descendants`).
    let relayed = |ep1: &str, ep2: &str| {
        let channel = |ep: &str, name: &str| -> Option<ChannelStats> {
            let c = Client::new(ep, "MediaServer").ok()?;
            grid.block_on(c.get(&paths::fill(paths::CHANNEL, &[name])))
                .ok()
        };
        [(ep1, ep2), (ep2, ep1)].iter().all(|(me, other)| {
            let (Some(tone), Some(relay)) = (channel(me, "tone"), channel(me, "tone-relay")) else {
                return false;
            };
            tone.tree.children == [format!("{other}/live/tone-relay")]
                && tone.tree.descendants == 1
                && relay.source.state == SourceState::Playing
                && relay.tree.path == [format!("{other}/live/tone")]
        })
    };
    wait_until(
        "the relays joined across the hosts",
        Duration::from_secs(20),
        || relayed(&ep1, &ep2).then_some(()),
    );

    // gridadmin from another host (the test's namespace) works as on loopback.
    let o = grid.admin("server state MediaServer-2");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        format!("active (pid {p2})\n")
    );

    // A killed server comes back on its host (on a new port), and the relays find it again.
    kill9(p1);
    grid.wait_active("MediaServer-1", Some(p1));
    let ep1 =
        grid.server("MediaServer-1").unwrap().runtime.endpoints["MediaServer-1.Adapter"].clone();
    wait_until("the relays joined again", Duration::from_secs(20), || {
        relayed(&ep1, &ep2).then_some(())
    });

    // Cutting node2's link marks it down and takes its adapter out of locate results.
    assert!(ip(&["link", "set", &hosts.link("b"), "down"]));
    wait_until("node2 marked down", Duration::from_secs(20), || {
        grid.server("MediaServer-2")
            .filter(|s| !s.node_up)
            .map(|_| ())
    });
    wait_until("locate without node2", Duration::from_secs(5), || {
        grid.locate("MediaServerGroup")
            .iter()
            .all(|e| !e.contains(&hosts.addr(3)))
            .then_some(())
    });
    assert!(grid.locate("MediaServer-2.Adapter").is_empty());

    // Restoring it brings node2 back, with the same server (it kept running).
    assert!(ip(&["link", "set", &hosts.link("b"), "up"]));
    assert_eq!(grid.wait_active("MediaServer-2", None), p2);
    wait_until("locate with node2 again", Duration::from_secs(20), || {
        (grid.locate("MediaServerGroup").len() == 2).then_some(())
    });
    drop(grid);
}
