//! Comparing secrets (the cluster secret, session and server tokens) without telling by the
//! time taken how much of a guess was right, and the tokens servers give one another.
//!
//! A node hands each server it spawns the *service key* ([`service_key`]), derived from the
//! cluster secret, never the secret itself (which opens the registry's node routes). From it a
//! server makes its own tokens and checks others': a render's stream token, which a
//! MediaServer wants before it opens, serves or closes that render's stream, and its control
//! token, which the registry's gateway sends along with the requests it forwards to the render
//! once it has checked the session's role. No call to the registry is needed, so failover
//! works while it is away.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Opening, reading and closing the render's stream on a MediaServer.
    Stream,
    /// Driving the render (load, play, queue, ...).
    Control,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Stream => b"stream",
            Self::Control => b"control",
        }
    }
}

/// The service key of a grid, from its cluster secret (hex).
pub fn service_key(cluster_secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"spotifice-grid service key\0");
    h.update(cluster_secret.as_bytes());
    hex::encode(h.finalize())
}

/// The token of server `id` for `purpose`, made with the service key (hex).
pub fn token(service_key: &str, purpose: Purpose, id: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(service_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(purpose.label());
    mac.update(b"\0");
    mac.update(id.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Does `given` carry server `id`'s token for `purpose`?
pub fn check(service_key: &str, purpose: Purpose, id: &str, given: &[u8]) -> bool {
    eq(given, token(service_key, purpose, id).as_bytes())
}

/// True when `a` and `b` are equal; the time taken depends only on their lengths.
pub fn eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_compare() {
        assert!(eq(b"abc", b"abc"));
        assert!(!eq(b"abc", b"abd"));
        assert!(!eq(b"abc", b"ab"));
    }

    #[test]
    fn tokens_are_per_server_and_purpose() {
        let key = service_key("s3cret");
        assert_ne!(key, service_key("other"));
        assert!(!key.contains("s3cret"));
        let t = token(&key, Purpose::Stream, "MediaRender-1");
        assert_eq!(t.len(), 64);
        assert!(check(&key, Purpose::Stream, "MediaRender-1", t.as_bytes()));
        assert!(!check(&key, Purpose::Stream, "MediaRender-2", t.as_bytes()));
        assert!(!check(
            &key,
            Purpose::Control,
            "MediaRender-1",
            t.as_bytes()
        ));
        assert!(!check(
            &service_key("other"),
            Purpose::Stream,
            "MediaRender-1",
            t.as_bytes()
        ));
    }
}
