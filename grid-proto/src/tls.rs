//! The grid's own certificate authority, and the TLS configurations made from it.
//!
//! The registry keeps the CA in its data folder (`ca.pem`, and `ca.key`, 0600); a node sends a
//! certificate request for its address with its registration (its key never leaves it) and
//! gets back a certificate the CA signed. Clients trust the CA's certificate (`--ca FILE`),
//! or pin its SHA-256 fingerprint. The crypto is rustls with aws-lc-rs (reqwest's own provider, so there is one in the
//! binaries), and rcgen for certificates.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

pub use rustls::{ClientConfig, ServerConfig};

/// The CA's certificate, in the registry's data folder.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA's private key, beside it (0600).
pub const CA_KEY_FILE: &str = "ca.key";

/// Why a certificate or a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// rcgen refused (a bad request, a bad key).
    #[error("{0}: {1}")]
    Cert(&'static str, #[source] rcgen::Error),
    /// rustls refused the certificate or key.
    #[error("{0}: {1}")]
    Rustls(&'static str, #[source] rustls::Error),
    /// PEM text without what it should hold.
    #[error("{0}")]
    Pem(String),
}

/// A certificate and its private key, in PEM.
#[derive(Clone)]
pub struct Identity {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

/// The grid's certificate authority.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("fingerprint", &fingerprint(&self.cert_pem))
            .finish_non_exhaustive()
    }
}

fn cert_err(what: &'static str) -> impl FnOnce(rcgen::Error) -> TlsError {
    move |e| TlsError::Cert(what, e)
}

/// The subject alternative names for `names`: IP addresses as such, the rest as DNS names.
fn sans(names: &[String]) -> Result<Vec<SanType>, TlsError> {
    names
        .iter()
        .map(|n| match n.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => n
                .as_str()
                .try_into()
                .map(SanType::DnsName)
                .map_err(cert_err("a certificate name")),
        })
        .collect()
}

impl Ca {
    /// The CA in `dir`, created there (key 0600) the first time.
    pub fn open_or_create(dir: &Path) -> Result<Self, TlsError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        let io = |what: &Path| {
            let what = what.display().to_string();
            move |e| TlsError::Io(what, e)
        };
        if key_path.exists() {
            let key_pem = std::fs::read_to_string(&key_path).map_err(io(&key_path))?;
            let cert_pem = std::fs::read_to_string(&cert_path).map_err(io(&cert_path))?;
            let key = KeyPair::from_pem(&key_pem).map_err(cert_err("the CA key"))?;
            let issuer =
                Issuer::from_ca_cert_pem(&cert_pem, key).map_err(cert_err("the CA certificate"))?;
            return Ok(Self { issuer, cert_pem });
        }
        let key = KeyPair::generate().map_err(cert_err("generating the CA key"))?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "Spotifice Grid CA");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params
            .self_signed(&key)
            .map_err(cert_err("signing the CA certificate"))?;
        crate::write_atomic(&key_path, key.serialize_pem().as_bytes()).map_err(io(&key_path))?;
        crate::write_atomic(&cert_path, cert.pem().as_bytes()).map_err(io(&cert_path))?;
        Ok(Self {
            issuer: Issuer::new(params, key),
            cert_pem: cert.pem(),
        })
    }

    /// The CA's certificate, what clients trust.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    fn leaf(names: &[String]) -> Result<CertificateParams, TlsError> {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        params.distinguished_name = dn;
        params.subject_alt_names = sans(names)?;
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        Ok(params)
    }

    /// A certificate for the key of `csr_pem`, valid for `names` only (whatever names the
    /// request asked for: the registry decides what a node may be called).
    pub fn sign_request(&self, csr_pem: &str, names: &[String]) -> Result<String, TlsError> {
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem)
            .map_err(cert_err("the certificate request"))?;
        csr.params = Self::leaf(names)?;
        let cert = csr
            .signed_by(&self.issuer)
            .map_err(cert_err("signing the certificate"))?;
        Ok(cert.pem())
    }

    /// A new key and a certificate for it, valid for `names` (the registry's own).
    pub fn issue(&self, names: &[String]) -> Result<Identity, TlsError> {
        let key = KeyPair::generate().map_err(cert_err("generating a key"))?;
        let cert = Self::leaf(names)?
            .signed_by(&key, &self.issuer)
            .map_err(cert_err("signing the certificate"))?;
        Ok(Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// A new key, and a certificate request for it naming `names`: the key stays with the caller.
pub fn new_request(names: &[String]) -> Result<(String, String), TlsError> {
    let key = KeyPair::generate().map_err(cert_err("generating a key"))?;
    let csr = Ca::leaf(names)?
        .serialize_request(&key)
        .map_err(cert_err("making the certificate request"))?
        .pem()
        .map_err(cert_err("writing the certificate request"))?;
    Ok((key.serialize_pem(), csr))
}

/// The SHA-256 of the first certificate in `pem`, as hex (what `--ca-fingerprint` pins).
pub fn fingerprint(pem: &str) -> Option<String> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
    Some(hex::encode(Sha256::digest(der.as_ref())))
}

fn certs(pem: &str, what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Pem(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::Pem(format!("{what} holds no certificate")));
    }
    Ok(certs)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The server side: `identity`'s certificate, sent with the CA's so a client that pins the
/// CA can follow the chain.
pub fn server_config(
    identity: &Identity,
    ca_pem: &str,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut chain = certs(&identity.cert_pem, "the certificate")?;
    chain.extend(certs(ca_pem, "the CA certificate")?);
    let key = PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes())
        .map_err(|e| TlsError::Pem(format!("the private key: {e}")))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls("the protocol versions", e))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Rustls("the certificate and key", e))?;
    Ok(Arc::new(config))
}

/// The client side: servers must show a certificate the CA of `ca_pem` signed.
pub fn client_config(ca_pem: &str) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(ca_pem, "the CA certificate")? {
        roots
            .add(cert)
            .map_err(|e| TlsError::Rustls("the CA certificate", e))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rustls("the protocol versions", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// `POST /v1/nodes/{name}/certificate`: a node asking for a certificate for its address.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CertificateRequest {
    /// The address the node listens on and advertises.
    pub address: String,
    /// A PKCS #10 request (PEM) for the node's own key, which stays with it.
    pub csr: String,
}

/// The answer: the certificate, and the CA's.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct CertificateIssued {
    /// The node's certificate (PEM).
    pub certificate: String,
    /// The grid CA's certificate (PEM).
    pub ca: String,
}

/// The CA this process's clients trust for `https://` peers, once set.
static TRUSTED: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The environment variable naming the grid CA's certificate file, for every client.
pub const CA_FILE_ENV: &str = "GRID_CA_FILE";

/// Makes every [`crate::client::Client`] of this process trust `ca_pem` (and only it) for
/// `https://` URLs. The first call wins.
pub fn trust(ca_pem: String) -> Result<(), TlsError> {
    client_config(&ca_pem)?;
    let _ = TRUSTED.set(ca_pem);
    Ok(())
}

/// Reads the CA file at `path` and [`trust`]s it.
pub fn trust_file(path: &Path) -> Result<(), TlsError> {
    let pem =
        std::fs::read_to_string(path).map_err(|e| TlsError::Io(path.display().to_string(), e))?;
    trust(pem).map_err(|e| TlsError::Pem(format!("{}: {e}", path.display())))
}

/// Trusts the CA file named by [`CA_FILE_ENV`], when set (a server whose node speaks TLS).
pub fn trust_env() -> Result<(), TlsError> {
    match std::env::var_os(CA_FILE_ENV) {
        Some(path) if !path.is_empty() => trust_file(Path::new(&path)),
        _ => Ok(()),
    }
}

/// `builder` set to trust the grid CA for `https://` peers, when one was set ([`trust`]); as
/// it was otherwise.
pub fn with_grid_ca(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, TlsError> {
    match trusted() {
        Some(ca) => Ok(builder.tls_backend_preconfigured(client_config(ca)?)),
        None => Ok(builder),
    }
}

/// The CA clients trust, if one was set.
pub fn trusted() -> Option<&'static str> {
    TRUSTED.get().map(String::as_str)
}

#[cfg(test)]
mod tests;
