//! Measures a running `media-server` from one client, as the benchmark does: the chunk API one
//! 4096-byte request at a time, and `/data` bodies in 4 KiB and 64 KiB pieces.
//!
//! `cargo run --release -p media-server --example throughput -- http://127.0.0.1:PORT [SECONDS]
//! [chunk|data4096|data65536]`
//! (it streams the largest track of the library).

use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::StreamExt;
use grid_proto::media::TrackInfo;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .context("usage: throughput BASE_URL [SECONDS]")?;
    let seconds: f64 = args.next().map_or(Ok(3.0), |s| s.parse())?;
    let only = args.next().unwrap_or_default();
    // One worker thread: the other core is the server's.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(measure(&base, Duration::from_secs_f64(seconds), &only))
}

async fn measure(base: &str, period: Duration, only: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let tracks: Vec<TrackInfo> = http
        .get(format!("{base}/v1/tracks"))
        .send()
        .await?
        .json()
        .await?;
    let track = tracks
        .iter()
        .max_by_key(|t| t.size)
        .context("an empty library")?;
    println!("track {} ({} bytes)", track.id, track.size);
    let open = || async {
        http.post(format!("{base}/v1/streams"))
            .json(&serde_json::json!({"track_id": track.id, "render_id": "bench", "offset": 0}))
            .send()
            .await?
            .error_for_status()
    };

    for size in [4096u64, 65_536] {
        if !only.is_empty() && only != format!("data{size}") {
            continue;
        }
        let (mut bytes, started) = (0u64, Instant::now());
        while started.elapsed() < period {
            open().await?;
            let mut body = http
                .get(format!("{base}/v1/streams/bench/data?offset=0&size={size}"))
                .send()
                .await?
                .error_for_status()?
                .bytes_stream();
            while let Some(piece) = body.next().await {
                bytes += piece?.len() as u64;
            }
        }
        println!(
            "/data, {size} B pieces: {:.1} MiB/s",
            bytes as f64 / started.elapsed().as_secs_f64() / 1_048_576.0
        );
    }
    if !only.is_empty() && only != "chunk" {
        return Ok(());
    }
    open().await?;
    let chunk_url = format!("{base}/v1/streams/bench/chunk");
    let (mut chunks, started) = (0u64, Instant::now());
    while started.elapsed() < period {
        let body = http
            .get(&chunk_url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        if body.is_empty() {
            open().await?;
        } else {
            chunks += 1;
        }
    }
    println!(
        "chunk API, 4096 B, one at a time: {:.0} chunks/s",
        chunks as f64 / started.elapsed().as_secs_f64()
    );

    Ok(())
}
