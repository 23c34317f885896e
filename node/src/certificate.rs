//! The node's TLS certificate, when its registry speaks TLS: kept in `<data>/tls/` (0600 in a
//! 0700 folder) and asked of the registry, with the cluster secret, when it is missing or was
//! issued for another address. The key is made here and never leaves the node: the registry
//! is sent a certificate request.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use grid_proto::client::Client;
use grid_proto::paths;
use grid_proto::tls::{CertificateIssued, CertificateRequest, Identity};
use tokio_util::sync::CancellationToken;

const KEY: &str = "node.key";
const CERT: &str = "node.pem";
const ADDRESS: &str = "address";

/// The node's key and certificate for `address`: from `data_dir/tls/`, or issued by the
/// registry (waiting for it, until `stop`).
pub async fn identity(
    registry: &Client,
    name: &str,
    address: IpAddr,
    data_dir: &Path,
    stop: &CancellationToken,
) -> anyhow::Result<Identity> {
    let dir = data_dir.join("tls");
    grid_proto::private::dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    if let (Some(key_pem), Some(cert_pem), Some(for_address)) =
        (read(KEY), read(CERT), read(ADDRESS))
        && for_address.trim() == address.to_string()
    {
        return Ok(Identity { cert_pem, key_pem });
    }
    let (key_pem, csr) = grid_proto::tls::new_request(&[address.to_string()])?;
    let body = CertificateRequest {
        address: address.to_string(),
        csr,
    };
    let path = paths::fill(paths::NODE_CERTIFICATE, &[name]);
    let mut waiting = false;
    let issued: CertificateIssued = loop {
        match registry.post(&path, &body).await {
            Ok(issued) => break issued,
            Err(e) if e.is_unreachable() => {
                if !waiting {
                    tracing::warn!(
                        "waiting for the registry to issue this node's certificate: {e}"
                    );
                    waiting = true;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = stop.cancelled() => bail!("stopped before the registry issued a certificate"),
                }
            }
            Err(e) => bail!("the registry did not issue a certificate: {e}"),
        }
    };
    let write = |f: &str, text: &str| {
        grid_proto::write_atomic(&dir.join(f), text.as_bytes())
            .with_context(|| format!("cannot write {}", dir.join(f).display()))
    };
    write(KEY, &key_pem)?;
    write(CERT, &issued.certificate)?;
    write(ADDRESS, &address.to_string())?;
    tracing::info!(%address, "certificate issued by the registry");
    Ok(Identity {
        cert_pem: issued.certificate,
        key_pem,
    })
}
