//! The accept loop the HTTP front and the control port share.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// What to do with a connection that died in the accept queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dropped {
    /// Pass over it quietly.
    Skip,
    /// Count it as a failed accept.
    Fail,
}

/// Accepts on `listener` until `stop`, handing each socket and its peer to `each`. A failed
/// accept (out of descriptors, say) is logged once per streak, `{prefix}accept failed`, and
/// waited out rather than spun on.
pub(crate) async fn until_stopped(
    listener: &TcpListener,
    stop: &CancellationToken,
    prefix: &str,
    dropped: Dropped,
    mut each: impl FnMut(TcpStream, SocketAddr),
) {
    let mut errors_logged = false;
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((socket, peer)) => {
                errors_logged = false;
                // No Nagle delay: a reply's last bytes go out at once, not after an ACK.
                if let Err(e) = socket.set_nodelay(true) {
                    debug!("cannot set TCP_NODELAY: {e}");
                }
                each(socket, peer);
            }
            Err(e) if dropped == Dropped::Skip && is_connection_error(&e) => {}
            Err(e) => {
                if !errors_logged {
                    warn!("{prefix}accept failed: {e}; retrying");
                    errors_logged = true;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
