//! The status as the watch channel carries it: the parts the player sets, and handles on what
//! moves continuously (position, bytes received), read at each `status` without the player.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use grid_proto::media::RenderStatus;

use crate::buffer::TrackBuffer;
use crate::pacer::Control;

/// The parts of the status that move continuously, read live from what plays.
#[derive(Debug, Clone)]
pub(super) enum Readings {
    /// A track's session.
    Track {
        buffer: Arc<TrackBuffer>,
        control: Arc<Control>,
        bytes_per_ms: u64,
    },
    /// A channel: audio bytes received, and bytes per ms.
    Channel {
        received: Arc<AtomicU64>,
        bytes_per_ms: u64,
    },
}

/// What the watch channel carries.
#[derive(Debug, Clone, Default)]
pub(super) struct Snapshot {
    pub(super) status: RenderStatus,
    pub(super) readings: Option<Readings>,
}

impl Snapshot {
    /// The status, now.
    pub(super) fn status(&self) -> RenderStatus {
        let mut s = self.status.clone();
        match &self.readings {
            Some(Readings::Track {
                buffer,
                control,
                bytes_per_ms,
            }) => {
                s.position_ms = control.position_ms();
                s.bytes_received = buffer.received();
                s.buffered_ms = buffer.unreleased() / bytes_per_ms;
                s.underruns += buffer.underruns();
            }
            Some(Readings::Channel {
                received,
                bytes_per_ms,
            }) => {
                s.bytes_received = received.load(Ordering::Relaxed);
                s.position_ms = s.bytes_received / bytes_per_ms;
            }
            None => {}
        }
        s
    }
}

/// `ms` as m:ss, for the logs.
pub(super) fn mm_ss(ms: u64) -> String {
    format!("{}:{:02}", ms / 60_000, ms / 1000 % 60)
}
