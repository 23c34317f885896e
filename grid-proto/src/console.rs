//! What the grid's command-line clients (`gridadmin`, `media-control`) share: the one place that
//! prints, the parsing of a shell line, and the shell's read loop. Each client keeps its own
//! commands, completion and renderings. Behind the `console` feature, so the daemons do not
//! build rustyline.

use std::future::Future;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::config::{CompletionType, Config};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};
use serde::Serialize;

mod line;
pub use line::{
    Commands, Line, LineError, ShellCommand, ShellLine, parse_line, parse_line_json,
    parse_shell_line, read_line,
};

/// A client's `main`: parses the command line into `P` and hands it to `run`. `--help` and
/// `--version` print and exit 0; a bad command line prints clap's error and exits 1.
pub fn main<P: clap::Parser>(run: impl FnOnce(P) -> ExitCode) -> ExitCode {
    match P::try_parse() {
        Ok(cli) => run(cli),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// The runtime a client runs its commands on: one thread, as a client does one thing at a time
/// and must start in a few milliseconds. `None` (and the error printed) when it cannot start.
pub fn runtime(out: &Output) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            out.error(&format!("cannot start the async runtime: {e}"));
            None
        }
    }
}

/// Where and how a client prints: text for people or pretty JSON on stdout, one line per failure
/// on stderr.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// JSON replies instead of human text.
    pub json: bool,
    /// What starts every error line (`error`, `media-control`).
    prefix: &'static str,
}

impl Output {
    /// An output in human (`json = false`) or JSON mode whose error lines start with `prefix: `.
    pub fn new(json: bool, prefix: &'static str) -> Self {
        Self { json, prefix }
    }

    /// This output, in JSON mode when `json` (a command line's own `--json`) asks for it.
    pub fn or_json(&self, json: bool) -> Self {
        Self {
            json: self.json || json,
            prefix: self.prefix,
        }
    }

    /// Prints text, ending it with a newline if it lacks one; nothing for empty text.
    pub fn text(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        // A closed pipe (`... | head`) is not worth a panic.
        let _ = out.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = out.write_all(b"\n");
        }
        let _ = out.flush();
    }

    /// Prints text exactly as it is (log contents), flushed at once.
    pub fn raw(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// Prints a value as pretty JSON.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) {
        match serde_json::to_string_pretty(value) {
            Ok(text) => self.text(&text),
            Err(e) => self.error(&format!("cannot print the reply as JSON: {e}")),
        }
    }

    /// Prints `warning: message` on stderr, on one line: something done differently than asked,
    /// which does not stop the command.
    pub fn warning(&self, message: &str) {
        let line = message.trim().replace('\n', " ");
        let _ = writeln!(std::io::stderr().lock(), "warning: {line}");
    }

    /// Prints `prefix: message` on stderr, on one line.
    pub fn error(&self, message: &str) {
        let line = message.trim().replace('\n', " ");
        let _ = writeln!(std::io::stderr().lock(), "{}: {line}", self.prefix);
    }

    /// Prints clap's rendering of a parse error (stderr) or of `help` (stdout).
    pub fn clap(&self, err: &clap::Error) {
        let _ = err.print();
    }
}

/// A shell: its line editor (list completion, history added by [`read_loop`], typed lines only)
/// and, at a terminal, its history file `~/NAME`.
pub struct Shell<H: Helper> {
    /// The line editor; the client sets its completion helper.
    pub editor: Editor<H, DefaultHistory>,
    /// Standard input is a terminal: history, completion and Ctrl-C handling apply.
    pub interactive: bool,
    history: Option<PathBuf>,
}

impl<H: Helper> Shell<H> {
    /// The editor, and at a terminal the history file `~/NAME`; `None`, printed, when the
    /// terminal cannot be set up.
    pub fn open(name: &str, out: &Output) -> Option<Self> {
        let interactive = std::io::stdin().is_terminal();
        let config = Config::builder()
            .completion_type(CompletionType::List)
            .auto_add_history(false)
            .build();
        let editor = match Editor::with_config(config) {
            Ok(e) => e,
            Err(e) => {
                out.error(&format!("cannot start the shell: {e}"));
                return None;
            }
        };
        // A home-less process has no history rather than one in the working directory.
        let history = std::env::var_os("HOME")
            .filter(|h| interactive && !h.is_empty())
            .map(|h| PathBuf::from(h).join(name));
        Some(Self {
            editor,
            interactive,
            history,
        })
    }

    /// Loads the history file, if there is one; an unreadable one is no history.
    pub fn load_history(&mut self) {
        if let Some(path) = &self.history {
            let _ = self.editor.load_history(path);
        }
    }

    /// [`read_loop`] with this shell's editor, then saves the history; exit code 0, since failed
    /// commands were printed as they came.
    pub fn run(
        mut self,
        prompt: &str,
        out: &Output,
        handle: impl FnMut(&mut Editor<H, DefaultHistory>, &str) -> Flow,
    ) -> ExitCode {
        read_loop(&mut self.editor, prompt, self.interactive, out, handle);
        if let Some(path) = &self.history {
            let _ = self.editor.save_history(path);
        }
        ExitCode::SUCCESS
    }
}

/// Completion candidates, each followed by a space when chosen.
fn pairs(words: Vec<String>) -> Vec<Pair> {
    words
        .into_iter()
        .map(|w| Pair {
            replacement: format!("{w} "),
            display: w,
        })
        .collect()
}

/// Lays out rows under headers, columns two spaces apart; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            if i + 1 < widths.len() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut headers.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

/// A table of `items`, one row each as `row` lays it out.
pub fn table_of<T>(headers: &[&str], items: &[T], row: impl FnMut(&T) -> Vec<String>) -> String {
    let rows: Vec<Vec<String>> = items.iter().map(row).collect();
    table(headers, &rows)
}

/// What the word under the cursor can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// One of these words.
    Words(Vec<String>),
    /// A file path.
    File,
}

/// A shell's knowledge of its commands: what the word after `prior` can be.
pub trait Complete {
    /// The slot of the word `current` that follows the words `prior`.
    fn slot(&self, prior: &[&str], current: &str) -> Slot;
}

/// The subcommands of `cmd` by name and visible alias: the words that can follow it.
pub fn command_words(cmd: &clap::Command) -> Vec<String> {
    cmd.get_subcommands()
        .flat_map(|s| {
            std::iter::once(s.get_name().to_owned())
                .chain(s.get_visible_aliases().map(str::to_owned))
        })
        .collect()
}

/// Candidates for the word that ends at `pos`: (start of the word, the words of its slot that
/// begin with it, sorted, whether it is a file path instead).
pub fn candidates(c: &impl Complete, line: &str, pos: usize) -> (usize, Vec<String>, bool) {
    let text = &line[..pos];
    let words: Vec<&str> = text.split_whitespace().collect();
    let (prior, current) = match words.split_last() {
        Some((last, prior)) if !text.ends_with(char::is_whitespace) => (prior, *last),
        _ => (&words[..], ""),
    };
    let start = pos - current.len();
    match c.slot(prior, current) {
        Slot::File => (start, Vec::new(), true),
        Slot::Words(all) => {
            let mut found: Vec<String> =
                all.into_iter().filter(|w| w.starts_with(current)).collect();
            found.sort();
            found.dedup();
            (start, found, false)
        }
    }
}

/// Rustyline's helper for a shell: completion only, words from `C`, paths from the disk.
pub struct Completion<C> {
    /// What the words can be.
    pub words: C,
    files: FilenameCompleter,
}

impl<C> Completion<C> {
    /// Completion of `words`.
    pub fn new(words: C) -> Self {
        Self {
            words,
            files: FilenameCompleter::new(),
        }
    }
}

impl<C: Complete> Completer for Completion<C> {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, words, file) = candidates(&self.words, line, pos);
        if file {
            return self.files.complete_path(line, pos);
        }
        Ok((start, pairs(words)))
    }
}

impl<C> Hinter for Completion<C> {
    type Hint = String;
}
impl<C> Highlighter for Completion<C> {}
impl<C> Validator for Completion<C> {}
impl<C: Complete> Helper for Completion<C> {}

/// What the shell does after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Continue,
    /// Leave the shell.
    Exit,
}

/// Reads lines until end of input or until `handle` says [`Flow::Exit`]. Ctrl-C at the prompt
/// clears the line; lines typed at a terminal go to the history. `handle` gets the editor back,
/// to refresh its completion.
pub fn read_loop<H: Helper>(
    editor: &mut Editor<H, DefaultHistory>,
    prompt: &str,
    interactive: bool,
    out: &Output,
    mut handle: impl FnMut(&mut Editor<H, DefaultHistory>, &str) -> Flow,
) {
    loop {
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                out.error(&format!("cannot read the command line: {e}"));
                break;
            }
        };
        if interactive && !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
        }
        if handle(editor, &line) == Flow::Exit {
            break;
        }
    }
}

/// Runs one shell command; at a terminal, Ctrl-C while it runs abandons it and returns to the
/// prompt.
pub fn run_command<T>(
    rt: &tokio::runtime::Runtime,
    interactive: bool,
    command: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    rt.block_on(async {
        if !interactive {
            return command.await;
        }
        tokio::select! {
            biased;
            r = command => r,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, clap::Parser)]
    #[command(multicall = true)]
    enum Line {
        Say { words: Vec<String> },
    }

    #[test]
    fn lines_are_shell_words_then_clap() {
        assert!(matches!(parse_line::<Line>("   "), Ok(None)));
        match parse_line::<Line>("say 'two words' three") {
            Ok(Some(Line::Say { words })) => assert_eq!(words, ["two words", "three"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_line::<Line>("say 'open"),
            Err(LineError::Quoting)
        ));
        assert!(matches!(
            parse_line::<Line>("shout"),
            Err(LineError::Clap(_))
        ));
    }
}
