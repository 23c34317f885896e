//! The distribution tree of relays: relays of one channel take at most `max_children` relay
//! children each and redirect the rest down the tree, alternating; when a relay dies, its
//! children rejoin from the root; a relay that would feed itself is refused.

use std::collections::HashMap;
use std::time::Duration;

use grid_proto::live::{ChannelStats, SourceState};

use crate::helper::{Live, Server, Tags, make_mp3, stats, wait_source, wait_until};
use crate::live::Listener;

/// Relays under the root in the tree test.
const RELAYS: usize = 6;

/// Every server's `test` channel, keyed by its URL.
async fn copies(servers: &[&Server]) -> HashMap<String, ChannelStats> {
    let mut out = HashMap::new();
    for s in servers {
        let c = stats(s, "test").await;
        out.insert(c.tree.url.clone(), c);
    }
    out
}

/// Whether `copies` form one tree under `root`: every relay plays, hangs under a parent that
/// lists it (and only that parent), its path is its parent's path plus the parent, and no one
/// has more than two children. The reason when not.
fn tree_problem(root: &str, copies: &HashMap<String, ChannelStats>) -> Option<String> {
    let mut parents: HashMap<&str, usize> = HashMap::new();
    for (url, c) in copies {
        if c.tree.children.len() > 2 {
            return Some(format!("{url} has {} children", c.tree.children.len()));
        }
        for child in &c.tree.children {
            *parents.entry(child.as_str()).or_default() += 1;
            if !copies.contains_key(child) {
                return Some(format!("{url} lists a dead child {child}"));
            }
        }
        if url == root {
            continue;
        }
        if c.source.state != SourceState::Playing {
            return Some(format!("{url} is {:?}", c.source.state));
        }
        let Some(parent) = c.tree.path.last() else {
            return Some(format!("{url} has no path"));
        };
        if c.tree.path[0] != root {
            return Some(format!("{url}'s path starts at {}", c.tree.path[0]));
        }
        let Some(p) = copies.get(parent) else {
            return Some(format!("{url}'s parent {parent} is gone"));
        };
        if !p.tree.children.contains(url) {
            return Some(format!("{parent} does not list its child {url}"));
        }
        if c.tree.path[..c.tree.path.len() - 1] != p.tree.path[..] {
            return Some(format!("{url}'s path does not extend its parent's"));
        }
    }
    let relays = copies.len() - 1;
    if parents.len() != relays || parents.values().any(|&n| n != 1) {
        return Some(format!("children lists {parents:?} for {relays} relays"));
    }
    None
}

#[tokio::test]
async fn relays_form_a_bounded_tree_and_heal_when_one_dies() {
    let live = Live::new("");
    // Bursts of 2 s: a heal well inside that is joined to what was passed on, on a slow
    // machine too.
    let root_file = live.write_channels(
        "root.toml",
        "[[channel]]\nname = \"test\"\nplaylist = [\"One\", \"Two\"]\nmetaint = 4000\nburst_ms = 2000\nlag_ms = 3000\n",
    );
    // Tracks of different lengths, so different audio: the fixture's two are the same sound,
    // and a repeat of it would not tell a spliced rejoin from a replayed burst.
    let lib = live.dir.path().join("tree-lib");
    std::fs::create_dir(&lib).unwrap();
    for (title, seconds) in [("One", 3.0), ("Two", 4.0)] {
        make_mp3(
            &lib.join(format!("{title}.mp3")),
            seconds,
            false,
            &Tags {
                title: Some(title),
                artist: Some("Artist A"),
                album: None,
            },
        );
    }
    let root = Server::start(&lib, &["--channels", &root_file]).await;
    let root_url = root.url("/live/test");
    let relay_file = live.write_channels(
        "relay.toml",
        &format!(
            "[[channel]]\nname = \"test\"\nsource = \"{root_url}\"\nmetaint = 4000\nburst_ms = 2000\nlag_ms = 3000\n"
        ),
    );
    let mut relays = Vec::new();
    for _ in 0..RELAYS {
        relays.push(live.start_on(&relay_file).await);
    }
    wait_until("the relays to form one tree", || async {
        tree_problem(&root_url, &copies(&all(&root, &relays)).await).is_none()
    })
    .await;
    let tree = copies(&all(&root, &relays)).await;
    // Six relays under a root of two children: the root is full, its two children took the
    // other four (the redirects alternate between them), so the tree is two deep.
    let top = &tree[&root_url];
    assert_eq!(top.tree.children.len(), 2, "{top:?}");
    assert!(top.tree.redirects >= 4, "{top:?}");
    for child in &top.tree.children {
        assert_eq!(tree[child].tree.children.len(), 2, "{:?}", tree[child]);
        assert_eq!(tree[child].tree.path, vec![root_url.clone()]);
    }
    assert!(tree.values().all(|c| c.tree.path.len() <= 2), "{tree:?}");
    // Each copy learns from its children how many relays are below it.
    wait_until("the root to count the relays below it", || async {
        stats(&root, "test").await.tree.descendants == RELAYS as u64
    })
    .await;

    // A listener on a grandchild of the root, whose parent is about to die.
    let doomed_url = top.tree.children[0].clone();
    let orphan_url = tree[&doomed_url].tree.children[0].clone();
    let doomed = relays
        .iter()
        .position(|s| stats_url(s) == doomed_url)
        .unwrap();
    let orphan = relays
        .iter()
        .position(|s| stats_url(s) == orphan_url)
        .unwrap();
    let (mut listener, _) = Listener::connect(&relays[orphan], "/live/test", true).await;
    listener.recorded = Some(Vec::new());
    listener.until_some_title().await;
    listener.read_for(Duration::from_millis(300)).await;
    let before_kill = listener.recorded.as_ref().map_or(0, Vec::len);

    relays[doomed].kill_hard();
    let dead = relays.remove(doomed);
    // The survivors rejoin from the root and form one tree again, without the dead relay.
    wait_until("the orphans to rejoin", || async {
        let tree = copies(&all(&root, &relays)).await;
        tree_problem(&root_url, &tree).is_none()
            && tree.values().all(|c| !c.tree.path.contains(&doomed_url))
    })
    .await;
    wait_until("the root to count the survivors below it", || async {
        stats(&root, "test").await.tree.descendants == RELAYS as u64 - 1
    })
    .await;
    let tree = copies(&all(&root, &relays)).await;
    assert!(tree.values().all(|c| c.tree.children.len() <= 2));
    assert!(tree[&orphan_url].source.reconnects >= 1);
    // The listener stayed connected through it and hears the root's titles again.
    let orphan = relays.iter().find(|s| stats_url(s) == orphan_url).unwrap();
    assert!(listener.read_for(Duration::from_millis(500)).await > 0);
    listener.until_some_title().await;
    // The new parent's burst was joined to what the orphan had passed on: none of the audio
    // heard before the kill comes again (a 1 KiB window of it, taken before the end).
    let heard = listener.recorded.take().unwrap();
    let window = &heard[before_kill - 2048..before_kill - 1024];
    assert!(
        !heard[before_kill..]
            .windows(window.len())
            .any(|w| w == window),
        "audio heard before the kill came again after it: {}",
        orphan.log()
    );
    orphan.assert_logged("joined the new upstream's audio");
    orphan.assert_logged("relay reconnected to");
    assert!(
        root.log()
            .contains(&format!("relay child {doomed_url} left"))
            || relays.iter().any(|s| s.log().contains("relay child")),
        "{}",
        root.log()
    );
    drop(dead);
}

/// The root and the relays.
fn all<'a>(root: &'a Server, relays: &'a [Server]) -> Vec<&'a Server> {
    std::iter::once(root).chain(relays).collect()
}

/// The URL a server's `test` channel goes by (its address is in its handle).
fn stats_url(server: &Server) -> String {
    server.url("/live/test")
}

#[tokio::test]
async fn relays_that_would_feed_each_other_take_no_children() {
    let live = Live::new("");
    // One server, two relay channels, each the other's upstream, and one that names itself.
    // The server's address is needed in its own channels file: they name a proxy, pointed at
    // the server once it is up.
    let proxy = Proxy::start(String::new()).await;
    let addr = proxy.addr.clone();
    let file = live.write_channels(
        "loop.toml",
        &format!(
            "[[channel]]\nname = \"x\"\nsource = \"http://{addr}/live/y\"\n\
             [[channel]]\nname = \"y\"\nsource = \"http://{addr}/live/x\"\n\
             [[channel]]\nname = \"me\"\nsource = \"http://{addr}/live/me\"\n"
        ),
    );
    let server = live.start_on(&file).await;
    proxy.retarget(&server.addr);
    // Neither x nor y is connected upstream, so neither takes the other: no loop forms, no
    // second source; both keep retrying and play silence. A channel that names itself is a
    // loop, refused as one.
    wait_until("the loops to be refused", || async {
        stats(&server, "me").await.tree.loops_refused >= 2
            && server.log().matches("not connected upstream").count() >= 4
    })
    .await;
    for name in ["x", "y", "me"] {
        let c = stats(&server, name).await;
        assert_eq!(c.source.state, SourceState::Connecting, "{c:?}");
        assert!(
            c.tree.children.is_empty() && c.tree.path.is_empty(),
            "{c:?}"
        );
    }
    let log = server.log();
    assert!(log.contains("relay http://"), "{log}");
    assert!(log.contains("refused: not connected upstream"), "{log}");
    assert!(
        log.contains("me: relay ") && log.contains("refused: it is upstream of this copy (a loop)"),
        "{log}"
    );
}

/// A TCP proxy that can stop forwarding (both ways) for a while: a network failure.
struct Proxy {
    addr: String,
    up: tokio::sync::watch::Sender<bool>,
    to: std::sync::Arc<std::sync::Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(to: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (up, watch) = tokio::sync::watch::channel(true);
        let to = std::sync::Arc::new(std::sync::Mutex::new(to));
        let target = std::sync::Arc::clone(&to);
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let to = target.lock().unwrap().clone();
                let watch = watch.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&to).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        () = forward(cr, sw, watch.clone()) => {}
                        () = forward(sr, cw, watch) => {}
                    }
                });
            }
        });
        Proxy { addr, up, to, task }
    }

    /// Connections from now on go to `to`.
    fn retarget(&self, to: &str) {
        to.clone_into(&mut self.to.lock().unwrap());
    }

    fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to` while the network is up; holds the bytes while it is down.
async fn forward(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut up: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if up.wait_for(|up| *up).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if up.wait_for(|up| *up).await.is_err() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// What a network failure of 3 to 4 s does to a relay of the tree. The
/// relay takes its silent upstream for dead after 2 s and plays silence to its listeners (who
/// stay connected) while it rejoins; once the network is back it is in the tree again, and the
/// parent holds it once (whether the old connection's end or the new join reaches it first).
#[tokio::test]
async fn a_network_failure_of_three_and_a_half_seconds() {
    let live = Live::new("");
    let root = live.start().await;
    let proxy = Proxy::start(root.addr.clone()).await;
    let file = live.write_channels(
        "relay.toml",
        &format!(
            "[[channel]]\nname = \"test\"\nsource = \"http://{}/live/test\"\nmetaint = 4000\nburst_ms = 500\nlag_ms = 3000\n",
            proxy.addr
        ),
    );
    let relay = live.start_on(&file).await;
    wait_source(&relay, "test", SourceState::Playing).await;
    let (mut listener, _) = Listener::connect(&relay, "/live/test", true).await;
    listener.until_some_title().await;

    proxy.set_up(false);
    let failed_at = std::time::Instant::now();
    wait_source(&relay, "test", SourceState::Reconnecting).await;
    // Not before 2 s of silence from upstream (whose last bytes came at most a tick before).
    assert!(failed_at.elapsed() >= Duration::from_millis(1500));
    // The listener stays connected and gets silence meanwhile.
    assert!(listener.read_for(Duration::from_millis(1000)).await > 0);
    let down_for = Duration::from_millis(3500).saturating_sub(failed_at.elapsed());
    listener.read_for(down_for).await;
    proxy.set_up(true);
    wait_until("the relay back in the tree, held once", || async {
        let (r, c) = (stats(&relay, "test").await, stats(&root, "test").await);
        r.source.state == SourceState::Playing
            && r.source.reconnects == 1
            && c.tree.children == [r.tree.url.clone()]
    })
    .await;
    listener.until_some_title().await;
    relay.assert_logged("upstream sent nothing for 2000 ms");
}

/// A server reached at another address than it is bound to names its copies by that address.
#[tokio::test]
async fn an_advertised_url_names_the_copies() {
    let live = Live::new("");
    let server = live
        .start_with(&["--advertise", "http://relay.example:8000/"])
        .await;
    assert_eq!(
        stats(&server, "test").await.tree.url,
        "http://relay.example:8000/live/test"
    );
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_media-server"))
        .args(["--library", "/nonexistent", "--listen", "127.0.0.1:0"])
        .args(["--advertise", "relay.example:8000"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("--advertise relay.example:8000: must be an http://HOST:PORT URL"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
