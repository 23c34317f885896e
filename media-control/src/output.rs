//! The only place that prints: text for people, pretty JSON with `--json`, and one
//! `media-control: ...` line on stderr for every failure.

use std::io::Write;

use serde::Serialize;

/// Where and how results are printed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    /// JSON replies instead of human text.
    pub json: bool,
}

impl Output {
    /// An output in human (`json = false`) or JSON mode.
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    /// Prints text, ending it with a newline if it lacks one; nothing for empty text.
    pub fn text(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        // A closed pipe (`media-control library | head`) is not worth a panic.
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }

    /// Prints a value as pretty JSON.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.text(&text),
            Err(e) => self.error(&format!("cannot print the reply as JSON: {e}")),
        }
    }

    /// Prints `media-control: message` on stderr, on one line.
    pub fn error(&self, message: &str) {
        let line = message.trim().replace('\n', " ");
        let _ = writeln!(std::io::stderr().lock(), "media-control: {line}");
    }

    /// Prints clap's rendering of a parse error (stderr) or of `help` (stdout).
    pub fn clap(&self, err: &clap::Error) {
        let _ = err.print();
    }
}
