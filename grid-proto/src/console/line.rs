//! A shell line: shell words, then clap; and the line every client's shell and `-e` parse, a
//! client's commands or `exit`.

use super::Output;

/// Why a shell line could not be parsed.
#[derive(Debug)]
pub enum LineError {
    /// Unbalanced quotes or a trailing backslash.
    Quoting,
    /// Clap's error, which is also how `help` and `--help` come back.
    Clap(clap::Error),
}

impl LineError {
    /// Prints the error the way the shell shows it.
    pub fn print(&self, out: &Output) {
        match self {
            Self::Quoting => out.error("unbalanced quotes"),
            Self::Clap(e) => out.clap(e),
        }
    }
}

/// Parses one shell line: shell words (shlex), then clap; `None` for a blank line.
pub fn parse_line<P: clap::Parser>(line: &str) -> Result<Option<P>, LineError> {
    let Some(words) = shlex::split(line) else {
        return Err(LineError::Quoting);
    };
    if words.is_empty() {
        return Ok(None);
    }
    P::try_parse_from(words).map(Some).map_err(LineError::Clap)
}

/// Like [`parse_line`], taking a `--json` word anywhere on the line out as the line's own JSON
/// switch (a multicall parser cannot hold a global flag). Returns the line and that switch.
pub fn parse_line_json<P: clap::Parser>(line: &str) -> Result<Option<(P, bool)>, LineError> {
    let Some(mut words) = shlex::split(line) else {
        return Err(LineError::Quoting);
    };
    let before = words.len();
    words.retain(|w| w != "--json");
    let json = words.len() != before;
    if words.is_empty() {
        return Ok(None);
    }
    P::try_parse_from(words)
        .map(|p| Some((p, json)))
        .map_err(LineError::Clap)
}

/// Reads one shell line for a shell loop: the parsed line and the output it asked for (JSON with
/// its own `--json`), or `None` for a blank line or an error, which is printed.
pub fn read_line<P: clap::Parser>(line: &str, out: &Output) -> Option<(P, Output)> {
    match parse_line_json::<P>(line) {
        Ok(Some((parsed, json))) => Some((parsed, out.or_json(json))),
        Ok(None) => None,
        Err(e) => {
            e.print(out);
            None
        }
    }
}

/// A client's commands, as one shell line holds them.
pub trait Commands: clap::Subcommand {
    /// What `help` says of them, first.
    const ABOUT: &'static str;
}

// The first word is the command (clap multicall, as in clap's `repl-derive` example).
/// One shell line, or one `-e` argument: `server list`, `help node`, `exit`.
#[derive(Debug, clap::Parser)]
#[command(multicall = true, about = C::ABOUT, long_about = None)]
pub struct ShellLine<C: Commands> {
    /// What to do.
    #[command(subcommand)]
    pub command: ShellCommand<C>,
}

/// A shell command: one of the client's, or leaving the shell.
#[derive(Debug, clap::Subcommand)]
pub enum ShellCommand<C: Commands> {
    /// A client command.
    #[command(flatten)]
    Run(C),
    /// Leave the shell.
    #[command(visible_alias = "quit")]
    Exit,
}

/// A parsed line: the command, and whether the line asked for JSON (`--json` anywhere on it).
#[derive(Debug)]
pub struct Line<C: Commands> {
    /// What to do.
    pub command: ShellCommand<C>,
    /// Print this command's JSON reply instead of a table.
    pub json: bool,
}

/// Parses one shell line (or `-e` argument) of `C`: shell words, then clap.
pub fn parse_shell_line<C: Commands>(line: &str) -> Result<Option<Line<C>>, LineError> {
    parse_line_json::<ShellLine<C>>(line).map(|parsed| {
        parsed.map(|(line, json)| Line {
            command: line.command,
            json,
        })
    })
}
