//! Errors in words a person can act on.

use std::error::Error;

/// The innermost cause of an error ("Connection refused", not a chain of wrappers), which is the
/// one a person can act on; the error itself when the innermost says nothing.
pub fn innermost(err: &(dyn Error + 'static)) -> String {
    let mut cur = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    let text = cur.to_string();
    if text.is_empty() {
        err.to_string()
    } else {
        text
    }
}

/// Why an HTTP exchange failed: "timed out" for a timeout (reqwest's own words for it name no
/// cause), else the innermost cause.
pub fn http_cause(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".to_owned()
    } else {
        innermost(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Wrapped(&'static str, #[source] Option<Box<Wrapped>>);

    #[test]
    fn the_innermost_cause_is_named() {
        let err = Wrapped(
            "sending the request",
            Some(Box::new(Wrapped("Connection refused", None))),
        );
        assert_eq!(innermost(&err), "Connection refused");
        let silent = Wrapped("sending the request", Some(Box::new(Wrapped("", None))));
        assert_eq!(innermost(&silent), "sending the request");
    }
}
