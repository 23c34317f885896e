//! Live channels: joining one, and what its task reports.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use grid_proto::ids::ChannelName;
use grid_proto::media::{Playing, RenderEvent, Subject};
use tracing::info;

use crate::channel::{self, ChannelEvent, ChannelJob, JoinError};
use crate::error::PlayError;

use super::Player;
use super::mode::{Channel, Mode};

impl Player {
    /// `POST /v1/channel`: locates the group, joins the channel on the first server that plays
    /// it, then ends what played (as a load does) and plays the channel.
    pub(super) async fn join(&mut self, raw: &str) -> Result<(), PlayError> {
        let name = ChannelName::from_input(raw)?;
        let result = self.try_join(name.as_str()).await;
        if let Err(e) = &result {
            info!("channel {name}: cannot join: {e}");
        }
        result
    }

    async fn try_join(&mut self, name: &str) -> Result<(), PlayError> {
        let list = self.located().await?;
        let (server, resp) =
            channel::join(&self.client, &list, name)
                .await
                .map_err(|e| match e {
                    JoinError::Unknown => PlayError::NotFound(format!(
                        "no such channel: {name} (no MediaServer of {} plays it)",
                        self.cfg.group
                    )),
                    JoinError::NoServer(reason) => PlayError::NoServer {
                        group: self.cfg.group.clone(),
                        reason,
                    },
                })?;
        self.release_previous().await;
        let bytes_per_ms = channel::bytes_per_ms(&resp);
        let id = self.new_session_id();
        let received = Arc::new(AtomicU64::new(0));
        let job = ChannelJob {
            name: name.to_owned(),
            first: (server.clone(), resp),
            sink: Arc::clone(&self.sink),
            received: Arc::clone(&received),
            session: id,
            events: self.channel_tx.clone(),
        };
        self.sink.track_starts(bytes_per_ms);
        self.sink.set_now(name, "");
        let task = tokio::spawn(channel::run(job, self.client.clone(), self.locator.clone()));
        self.mode = Mode::Live(Channel::new(
            id,
            name.to_owned(),
            server.clone(),
            task,
            received,
            bytes_per_ms,
        ));
        self.error = None;
        info!(
            "channel {name}: joined on {} {} ({} kbit/s)",
            server.id,
            server.endpoint,
            bytes_per_ms * 8
        );
        self.events.emit(RenderEvent::Playing(Playing::Channel {
            channel: name.to_owned(),
            server: server.id.clone(),
        }));
        self.publish();
        Ok(())
    }

    /// What the channel's task reports.
    pub(super) fn channel_event(&mut self, event: ChannelEvent) {
        let Mode::Live(c) = &mut self.mode else {
            return;
        };
        let name = c.name().to_owned();
        match event {
            ChannelEvent::Serving { server, failover } => {
                if let Some(f) = failover {
                    let event = self.failovers.record(
                        Subject::Channel {
                            channel: name.clone(),
                        },
                        f,
                    );
                    self.events.emit(event);
                }
                let id = server.id.clone();
                if c.serving(server) {
                    info!("channel {name}: playing again from {id}");
                }
                self.error = None;
            }
            ChannelEvent::Title(title) => {
                info!("channel {name}: title '{title}'");
                self.sink.set_now(&name, &title);
                self.events.emit(RenderEvent::Title {
                    channel: name.clone(),
                    title: title.clone(),
                });
                c.set_title(title);
            }
            ChannelEvent::Retrying { error } => {
                if c.retrying() {
                    info!(
                        "channel {name}: playing -> retrying: no MediaServer of {} plays it",
                        self.cfg.group
                    );
                }
                self.error = Some(format!(
                    "no MediaServer of {} plays channel {name}, retrying: {error}",
                    self.cfg.group
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a bad name reads as on the wire.
    fn channel_name(raw: &str) -> Result<String, PlayError> {
        Ok(ChannelName::from_input(raw)?.into())
    }

    #[test]
    fn channel_names_are_short_lowercase_words() {
        assert_eq!(channel_name(" lounge ").unwrap(), "lounge");
        assert_eq!(channel_name("relay-2").unwrap(), "relay-2");
        for bad in ["", "Lounge", "a b", "../x", &"x".repeat(33)] {
            let err = channel_name(bad).unwrap_err().to_string();
            assert!(err.contains("not a channel name"), "{bad}: {err}");
        }
    }
}
