//! The control port's line parser's fuzz harness, shared by the `cargo fuzz` target (`fuzz/`)
//! and by `tests/integration/fuzz_seeds.rs`, which runs it on the seed corpus on stable Rust.
//!
//! Input: the bytes of one command line, as the control port hands it over (without its
//! newline, at most `MAX_LINE` bytes: longer lines never reach the parser). Checks: no panic;
//! a command's port is 1 to 65535; a refusal is one non-empty line, since it is sent back as
//! `ERR <reason>\n`; the same line parses the same way with a `\r` before the newline.

use media_server::live::command::{self, Command};
use media_server::live::control::MAX_LINE;

/// One input through the parser.
pub fn run(data: &[u8]) {
    let line = &data[..data.len().min(MAX_LINE)];
    let parsed = command::parse(line);
    match &parsed {
        Ok(Command::Connect { port, .. }) => assert!(*port > 0),
        Ok(_) => {}
        Err(reason) => assert!(
            !reason.is_empty() && !reason.contains(['\n', '\r']),
            "{reason:?}"
        ),
    }
    if !line.ends_with(b"\r") {
        let mut crlf = line.to_vec();
        crlf.push(b'\r');
        assert_eq!(command::parse(&crlf), parsed, "{line:?} with a CR");
    }
}
