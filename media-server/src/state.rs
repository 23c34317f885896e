//! The handlers' shared state: the library's current snapshot and its rescan, the open streams,
//! the live channels, the control port and the counters.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::info;

use crate::error::ApiError;
use crate::library::{self, Library};
use crate::live;
use crate::metrics::counters::ServerMetrics;
use crate::stream_table::Streams;

/// The handlers' shared state.
#[derive(Debug)]
pub struct AppState {
    /// Server id.
    pub id: String,
    /// The track library directory.
    pub library_dir: PathBuf,
    /// The current snapshot, swapped whole by a rescan; streams keep the tracks (and open
    /// files) they started with.
    library: Arc<library::Current>,
    /// One rescan at a time, so an older scan never replaces a newer one.
    rescanning: tokio::sync::Mutex<()>,
    /// The open streams.
    pub streams: Arc<Streams>,
    /// The live channels.
    pub live: Arc<live::Live>,
    /// The control port, with `--control`.
    pub control: Option<Arc<live::control::Control>>,
    /// The counters of `GET /metrics`.
    pub metrics: Arc<ServerMetrics>,
    /// The grid's service key, which renders' stream tokens are checked with; none when run
    /// by hand, and then every render's stream is open to anyone.
    pub service_key: Option<String>,
}

/// The state as handlers hold it.
pub type SharedState = Arc<AppState>;

impl AppState {
    /// A server with an empty library (until [`rescan`]) and no streams; at most `max_streams`
    /// of them, each reaped after `stream_idle` untouched.
    pub fn new(
        id: String,
        library_dir: PathBuf,
        stream_idle: Duration,
        max_streams: usize,
    ) -> Self {
        Self {
            id,
            library_dir,
            library: Arc::default(),
            rescanning: tokio::sync::Mutex::new(()),
            streams: Arc::new(Streams::new(stream_idle, max_streams)),
            live: Arc::default(),
            control: None,
            metrics: Arc::default(),
            service_key: None,
        }
    }

    /// The library, for whoever reads its snapshot as it changes (a playlist).
    pub fn library(&self) -> &Arc<library::Current> {
        &self.library
    }

    /// The current library snapshot.
    pub fn snapshot(&self) -> Arc<Library> {
        self.library.get()
    }
}

/// Scans the library folder again (in a blocking thread) and swaps the snapshot; returns the
/// number of tracks. An unreadable folder keeps the current snapshot.
pub async fn rescan(state: &AppState) -> Result<usize, ApiError> {
    let _one = state.rescanning.lock().await;
    let previous = state.snapshot();
    let dir = state.library_dir.clone();
    let started = Instant::now();
    let scan = tokio::task::spawn_blocking(move || library::scan(&dir, &previous))
        .await
        .map_err(|e| ApiError::Internal(format!("the library scan failed: {e}")))?
        .map_err(|e| {
            ApiError::Internal(format!(
                "library {} cannot be read: {e}",
                state.library_dir.display()
            ))
        })?;
    let tracks = scan.library.len();
    info!(
        "rescan of {} done in {} ms: {tracks} tracks ({} read, {} unchanged, {} skipped, {} duplicates)",
        state.library_dir.display(),
        started.elapsed().as_millis(),
        scan.read,
        scan.kept,
        scan.failed,
        scan.duplicates
    );
    state.library.replace(scan.library);
    Ok(tracks)
}
