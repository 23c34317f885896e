//! The bound on request bodies (`--max-body`).

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::error::ApiError;

/// How much of a refused body is read (and dropped) so that its client, still sending, reads
/// the refusal instead of a reset connection; past this the connection is simply closed.
const DRAIN_BYTES: usize = 256 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Refuses, 413, a request whose declared length is past `max` before reading it. A body
/// without a declared length is cut at `max` by `DefaultBodyLimit` where it is read.
pub(crate) async fn body(State(max): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max as u64 => {
            let what = if request
                .uri()
                .path()
                .starts_with(grid_proto::paths::APPLICATIONS)
            {
                "descriptor"
            } else {
                "request body"
            };
            drain(request).await;
            ApiError::TooLarge(format!(
                "{what} is {}; the limit is {} (--max-body)",
                size(len),
                size(max as u64)
            ))
            .into_response()
        }
        _ => next.run(request).await,
    }
}

async fn drain(request: Request) {
    let mut body = request.into_body().into_data_stream();
    let mut read = 0usize;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = body.next().await {
            read += chunk.len();
            if read > DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
}

/// `n` bytes as people read it: 512 bytes, 64.0 KB, 11.3 MB.
fn size(n: u64) -> String {
    const KB: f64 = 1024.0;
    let f = n as f64;
    if f >= KB * KB {
        format!("{:.1} MB", f / (KB * KB))
    } else if f >= KB {
        format!("{:.1} KB", f / KB)
    } else {
        format!("{n} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::size;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(512), "512 bytes");
        assert_eq!(size(2 * 1024 * 1024), "2.0 MB");
        assert_eq!(size(11_848_909), "11.3 MB");
        assert_eq!(size(65_536), "64.0 KB");
    }
}
