use std::os::unix::fs::PermissionsExt;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// A TLS connection from a client trusting `client_ca` to a server showing `identity`: what the
/// client read back, or the handshake's error.
async fn exchange(
    identity: &Identity,
    server_ca: &str,
    client_ca: &str,
) -> Result<Vec<u8>, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(server_config(identity, server_ca).unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        if let Ok(mut tls) = acceptor.accept(tcp).await {
            let mut got = [0u8; 5];
            if tls.read_exact(&mut got).await.is_ok() {
                let _ = tls.write_all(&got).await;
                let _ = tls.shutdown().await;
            }
        }
    });
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(client_ca).unwrap()));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::IpAddress(addr.ip().into());
    let result = async {
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        tls.write_all(b"hello").await.map_err(|e| e.to_string())?;
        let mut back = Vec::new();
        tls.read_to_end(&mut back)
            .await
            .map_err(|e| e.to_string())?;
        Ok(back)
    }
    .await;
    server.abort();
    result
}

#[tokio::test]
async fn the_ca_persists_privately_and_its_certificates_verify() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::open_or_create(dir.path()).unwrap();
    let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = Ca::open_or_create(dir.path()).unwrap();
    assert_eq!(fingerprint(ca.cert_pem()), fingerprint(again.cert_pem()));
    assert_eq!(fingerprint(ca.cert_pem()).unwrap().len(), 64);

    // The registry's own certificate, issued after a reopen, verifies against the first CA.
    let identity = again
        .issue(&["127.0.0.1".into(), "localhost".into()])
        .unwrap();
    assert_eq!(
        exchange(&identity, ca.cert_pem(), ca.cert_pem())
            .await
            .unwrap(),
        b"hello"
    );
    assert!(!format!("{identity:?}").contains("PRIVATE"));

    // A client trusting another CA refuses it.
    let other = tempfile::tempdir().unwrap();
    let stranger = Ca::open_or_create(other.path()).unwrap();
    let refused = exchange(&identity, ca.cert_pem(), stranger.cert_pem())
        .await
        .unwrap_err();
    assert!(refused.contains("certificate"), "{refused}");
}

#[tokio::test]
async fn a_node_request_is_signed_for_the_names_the_ca_chooses() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::open_or_create(dir.path()).unwrap();
    let (key_pem, csr) = new_request(&["10.9.9.9".into()]).unwrap();
    assert!(csr.contains("CERTIFICATE REQUEST"), "{csr}");
    // The node asked for 10.9.9.9; the registry signs for the address it saw.
    let cert_pem = ca.sign_request(&csr, &["127.0.0.1".into()]).unwrap();
    let identity = Identity { cert_pem, key_pem };
    assert_eq!(
        exchange(&identity, ca.cert_pem(), ca.cert_pem())
            .await
            .unwrap(),
        b"hello"
    );
    assert!(matches!(
        ca.sign_request("not a request", &[]),
        Err(TlsError::Cert(..))
    ));
    assert!(matches!(
        client_config("no pem here"),
        Err(TlsError::Pem(_))
    ));
}
