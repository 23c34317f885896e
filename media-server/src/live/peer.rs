//! Another copy's stats, as relays in a tree read their parents' and children's.

use grid_proto::live::ChannelStats;

/// At most this much of a peer's stats is read.
const MAX_PEER_STATS: usize = 64 * 1024;

/// Another copy's stats (`GET {base}/v1/channels/{name}` of `client`'s base), read to at most
/// [`MAX_PEER_STATS`]: relays in a tree ask their parents and children, whose answers are never
/// trusted to be small.
pub(crate) async fn peer_stats(
    client: &grid_proto::client::Client,
    name: &str,
) -> Option<ChannelStats> {
    let url = client.url(&grid_proto::paths::fill(
        grid_proto::paths::CHANNEL,
        &[name],
    ));
    let mut resp = client.http().get(url).send().await.ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_PEER_STATS {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).ok()
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A peer that answers every request with `body`.
    async fn peer(body: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut head = [0u8; 1024];
                    let _ = s.read(&mut head).await;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(reply.as_bytes()).await;
                    let _ = s.write_all(&body).await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn a_peers_stats_are_read_only_when_small() {
        let mut stats = serde_json::to_value(ChannelStats {
            name: "t".into(),
            kind: grid_proto::live::ChannelKind::Relay,
            description: String::new(),
            genre: String::new(),
            bitrate_kbps: 128,
            metaint: 16_000,
            listeners: 0,
            listeners_peak: 0,
            joins: 0,
            bytes_out: 0,
            cut_offs: 0,
            title: String::new(),
            source: grid_proto::live::SourceStats {
                state: grid_proto::live::SourceState::Playing,
                upstream: None,
                track_id: None,
                reconnects: 0,
                segments: 0,
                gaps: 0,
                duplicates: 0,
            },
            uptime_ms: 0,
            udp_clients: 0,
            udp_datagrams: 0,
            udp_bytes: 0,
            tree: grid_proto::live::TreeStats::default(),
        })
        .unwrap();
        let small = peer(serde_json::to_vec(&stats).unwrap()).await;
        let client = grid_proto::client::Client::new(&small, "a peer").unwrap();
        assert_eq!(
            peer_stats(&client, "t").await.map(|s| s.name),
            Some("t".into())
        );
        // The same stats with a title of 100 KB: not read.
        stats["title"] = "x".repeat(100 * 1024).into();
        let big = peer(serde_json::to_vec(&stats).unwrap()).await;
        let client = grid_proto::client::Client::new(&big, "a peer").unwrap();
        assert!(peer_stats(&client, "t").await.is_none());
    }
}
