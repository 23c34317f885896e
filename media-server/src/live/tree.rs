//! A channel's place in the distribution tree: the path above it, which relays it takes as
//! children, where it redirects the others, and how many relays are below each child.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use bytes::BytesMut;
use grid_proto::icy::{self, IcyReply, Protocol};
use grid_proto::live::TreeStats;
use tokio::io::AsyncWriteExt;
use tracing::info;

use super::listeners::Listeners;

/// A relay told to go elsewhere gets this long to take the answer.
const ANSWER_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The tree as this copy sees it.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    /// The upstreams from the tree's root down to the parent (a relay's, learnt at connect).
    path: Vec<String>,
    /// Relays redirected to a child; the next child a redirect goes to (round robin, so the
    /// tree stays balanced).
    redirects: u64,
    loops_refused: u64,
    /// Relays below each child that last answered as ours.
    child_sizes: HashMap<String, u64>,
}

/// A relay that is not taken as a child: what it is told.
#[derive(Debug)]
pub(crate) enum RelayAnswer {
    /// Go to this child instead.
    Redirect(String),
    /// It is upstream of this copy.
    Loop,
    /// Full, and no child has confirmed it is ours yet (it joined under a second ago).
    NotReady,
    /// This copy is a relay not connected to its upstream.
    NotConnected,
    /// This channel takes no relay children.
    NoRoom,
}

impl Tree {
    /// The upstreams from the root down to the parent.
    pub(crate) fn path(&self) -> &[String] {
        &self.path
    }

    /// The path above from now on.
    pub(crate) fn set_path(&mut self, path: Vec<String>) {
        self.path = path;
    }

    /// What each child said is below it; a child missing here is sent no relays.
    pub(crate) fn set_child_sizes(&mut self, sizes: HashMap<String, u64>) {
        self.child_sizes = sizes;
    }

    /// Relays redirected to a child.
    pub(crate) fn redirects(&self) -> u64 {
        self.redirects
    }

    /// The path a child is told: the path above and this copy, `me`.
    pub(crate) fn path_for_child(&self, me: &str) -> String {
        let mut path = self.path.join(" ");
        if !path.is_empty() {
            path.push(' ');
        }
        path.push_str(me);
        path
    }

    /// Where relay `url` asking to join copy `me` (channel `name`, at most `max` children)
    /// goes: `None` to take it as a child, else the answer that sends it elsewhere. A relay
    /// that is this copy or one of its upstreams would close a loop (a tree fed by itself, with
    /// no source): refused. A child of the same URL is a stale entry (the relay lost us and
    /// came back) and is replaced; dead children are pruned first, so a full node whose child
    /// just died takes the newcomer itself. Only a source, or a relay connected to its upstream
    /// (`connected`), takes children.
    pub(crate) fn place(
        &mut self,
        listeners: &mut Listeners,
        me: &str,
        name: &str,
        connected: bool,
        url: &str,
        max: usize,
    ) -> Option<RelayAnswer> {
        if url == me || self.path.iter().any(|p| p == url) {
            self.loops_refused += 1;
            info!("{name}: relay {url} refused: it is upstream of this copy (a loop)");
            return Some(RelayAnswer::Loop);
        }
        // A relay cut from its upstream is out of the tree: a relay joining it now would hang
        // under nothing (and two relays waiting for each other would take each other, a loop
        // with no source). It comes back when it is connected again.
        if !connected {
            info!("{name}: relay {url} refused: not connected upstream");
            return Some(RelayAnswer::NotConnected);
        }
        listeners.prune_children(name, Some(url));
        let children: Vec<&str> = listeners.children().collect();
        if children.len() < max {
            info!(
                "{name}: relay child {url} joined ({} of {max})",
                children.len() + 1
            );
            return None;
        }
        if children.is_empty() {
            return Some(RelayAnswer::NoRoom);
        }
        // Only to a child that said it is ours (a relay names itself; a name that does not
        // answer as our child, a fake or one unreachable from here, is never sent relays), and
        // to the one with the fewest relays below it, the first in turn among equals: subtrees
        // that moved (a relay rejoining brings its own) would otherwise pile up on one side.
        let start = (self.redirects % children.len() as u64) as usize;
        let Some(to) = (0..children.len())
            .map(|i| children[(start + i) % children.len()])
            .filter_map(|url| Some((url, *self.child_sizes.get(url)?)))
            .min_by_key(|(_, size)| *size)
            .map(|(url, _)| url.to_owned())
        else {
            return Some(RelayAnswer::NotReady);
        };
        self.redirects += 1;
        info!("{name}: relay {url} redirected to child {to}");
        Some(RelayAnswer::Redirect(to))
    }

    /// The tree's numbers of copy `me` with these `listeners`, at most `max_children`.
    pub(crate) fn stats(&self, listeners: &Listeners, me: &str, max_children: usize) -> TreeStats {
        TreeStats {
            url: me.to_owned(),
            path: self.path.clone(),
            children: listeners.children().map(str::to_owned).collect(),
            max_children: u32::try_from(max_children).unwrap_or(u32::MAX),
            redirects: self.redirects,
            loops_refused: self.loops_refused,
            // The relays below: each child and what it said is below it.
            descendants: listeners
                .children()
                .map(|url| 1 + self.child_sizes.get(url).copied().unwrap_or(0))
                .sum(),
        }
    }
}

impl RelayAnswer {
    /// Writes the answer (no body) and closes.
    pub(crate) async fn send(
        self,
        mut socket: tokio::net::TcpStream,
        protocol: Protocol,
    ) -> io::Result<()> {
        let protocol = if protocol == Protocol::Http10 {
            Protocol::Http10
        } else {
            Protocol::Http11
        };
        let reply = match &self {
            RelayAnswer::Redirect(to) => {
                IcyReply::new(protocol, 302, "Found").with_header("location", to)
            }
            RelayAnswer::Loop => IcyReply::new(protocol, 508, "Loop Detected"),
            RelayAnswer::NoRoom => IcyReply::new(protocol, 503, "No Relay Children Here"),
            RelayAnswer::NotReady => IcyReply::new(protocol, 503, "Children Not Confirmed Yet"),
            RelayAnswer::NotConnected => IcyReply::new(protocol, 503, "Not Connected Upstream"),
        }
        .with_header("content-length", "0")
        .with_header("connection", "close");
        let mut out = BytesMut::with_capacity(256);
        icy::encode_reply(&reply, &mut out);
        tokio::time::timeout(ANSWER_WRITE_TIMEOUT, async {
            socket.write_all(&out).await?;
            socket.shutdown().await
        })
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "answer not taken"))?
    }
}
