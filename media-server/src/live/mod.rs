//! Live channels (`docs/live.md`): playlists of the library and relays of upstream streams,
//! broadcast in ICY or plain HTTP to many listeners from one thread.
//!
//! - [`config`]: the `--channels` file.
//! - [`channel`]: a channel: its state, and the methods its sources and listeners act through.
//! - `ring`: a channel's recent output, read by every listener.
//! - [`source`]: playlists, relays, UDP ingest and silence, each the clock of its channel.
//! - [`control`], [`udp_feed`]: the control port with UDP delivery, and a channel's UDP
//!   clients.
//! - `listeners`, `tree`: a channel's listeners, and its place in the distribution tree.
//! - [`slow_path`]: listeners served through the HTTP stack.
//! - `peer`: another copy's stats, for the distribution tree.
//!
//! Listeners are taken over by the front (the accept loop) straight away: no HTTP stack, no task
//! and no buffer per listener. The routes are [`crate::channels`].

pub mod channel;
pub mod command;
pub mod config;
pub mod control;
pub(crate) mod listeners;
pub(crate) mod peer;
pub(crate) mod ring;
pub mod slow_path;
pub mod source;
pub(crate) mod tree;
pub mod udp_feed;

use std::sync::Arc;
use std::time::Duration;

use tracing::info;

use crate::library::Current;
pub use channel::Channel;
use config::{ChannelConfig, Source};

/// The channels of a server.
#[derive(Debug, Default)]
pub struct Live {
    channels: Vec<Arc<Channel>>,
    /// The distributor's tick.
    pub tick: Duration,
    /// The registry, to locate `grid:` upstreams.
    registry: Option<String>,
}

impl Live {
    /// Channels as configured, not started, of the server at `base` (`http://host:port`).
    /// `grid:` upstreams need the `registry`.
    pub fn new(
        configs: Vec<ChannelConfig>,
        tick: Duration,
        base: &str,
        registry: Option<String>,
    ) -> anyhow::Result<Self> {
        if registry.is_none()
            && let Some(c) = configs.iter().find(|c| {
                matches!(
                    c.source,
                    Source::Relay {
                        upstream: config::Upstream::Grid { .. },
                        ..
                    }
                )
            })
        {
            anyhow::bail!(
                "channel '{}': source: a grid: upstream needs the registry (run the server under a node, or pass --registry)",
                c.name
            );
        }
        Ok(Live {
            tick,
            registry,
            channels: configs
                .into_iter()
                .map(|c| {
                    let url = format!("{base}/live/{}", c.name);
                    Arc::new(Channel::new(c, tick, url))
                })
                .collect(),
        })
    }

    /// The channel called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Channel>> {
        self.channels.iter().find(|c| c.name() == name)
    }

    /// All channels, in the file's order.
    pub fn channels(&self) -> &[Arc<Channel>] {
        &self.channels
    }

    /// Starts every channel's clock (a task each) on this runtime. Fails when a UDP source's
    /// port cannot be bound.
    pub fn start(&self, library: &Arc<Current>) -> anyhow::Result<()> {
        let tick = self.tick;
        for channel in &self.channels {
            let c = &channel.config;
            if c.max_children > 0 {
                tokio::spawn(Arc::clone(channel).keep_child_sizes());
            }
            match &c.source {
                Source::Playlist { entries, order } => {
                    info!(
                        "channel {} started: playlist ({}, {}), metaint {}, burst {} ms, lag {} ms",
                        c.name,
                        entries.as_ref().map_or_else(
                            || "the whole library".to_owned(),
                            |e| format!("{} entries", e.len())
                        ),
                        match order {
                            config::Order::InOrder => "in order",
                            config::Order::Shuffle => "shuffled",
                        },
                        c.metaint,
                        c.burst_ms,
                        c.lag_ms
                    );
                    let playlist = source::playlist::Playlist::new(
                        entries.clone(),
                        *order,
                        std::time::Duration::from_millis(c.burst_ms),
                    );
                    tokio::spawn(source::playlist::run(
                        Arc::clone(channel),
                        playlist,
                        Arc::clone(library),
                        tick,
                    ));
                }
                Source::Relay { url, upstream } => {
                    info!(
                        "channel {} started: relay of {url}, metaint {}, burst {} ms, lag {} ms",
                        c.name, c.metaint, c.burst_ms, c.lag_ms
                    );
                    tokio::spawn(source::relay::run(
                        Arc::clone(channel),
                        upstream.clone(),
                        self.registry.clone(),
                        tick,
                    ));
                }
                Source::Udp { bind, .. } => {
                    let socket = source::udp::bind(channel, bind)?;
                    info!(
                        "channel {} started: UDP source on {}, metaint {}, burst {} ms, lag {} ms",
                        c.name,
                        socket
                            .local_addr()
                            .map_or_else(|_| bind.clone(), |a| a.to_string()),
                        c.metaint,
                        c.burst_ms,
                        c.lag_ms
                    );
                    tokio::spawn(source::udp::run(Arc::clone(channel), socket, tick));
                }
            }
        }
        Ok(())
    }

    /// Closes every listener (at a stop).
    pub fn close_all(&self) {
        for c in &self.channels {
            c.close_all();
        }
    }
}
