//! The event stream: every change with a serial that grows by one.

use std::sync::{Arc, Mutex, MutexGuard};

use grid_proto::api::{Event, EventKind};
use grid_proto::metrics::prometheus_client::metrics::counter::Counter;
use tokio::sync::broadcast;

/// Subscribers and the last serial.
#[derive(Debug)]
pub(super) struct Events {
    tx: broadcast::Sender<Arc<Event>>,
    serial: Mutex<u64>,
    published: Counter,
}

impl Events {
    pub(super) fn new(published: Counter) -> Self {
        let (tx, _) = broadcast::channel(1024);
        Self {
            tx,
            serial: Mutex::new(0),
            published,
        }
    }

    fn serial_lock(&self) -> MutexGuard<'_, u64> {
        self.serial.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes an event to every subscriber.
    pub(super) fn publish(&self, kind: EventKind) {
        let mut serial = self.serial_lock();
        *serial += 1;
        self.published.inc();
        // Sent under the lock so subscribers see serials in order; send never blocks.
        let _ = self.tx.send(Arc::new(Event {
            serial: *serial,
            time_ms: grid_proto::now_ms(),
            kind,
        }));
    }

    pub(super) fn subscribe(&self) -> (broadcast::Receiver<Arc<Event>>, u64) {
        let serial = self.serial_lock();
        (self.tx.subscribe(), *serial)
    }

    pub(super) fn serial(&self) -> u64 {
        *self.serial_lock()
    }

    pub(super) fn receivers(&self) -> usize {
        self.tx.receiver_count()
    }
}
