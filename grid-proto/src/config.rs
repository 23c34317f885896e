//! Daemon config files: a TOML file whose keys are the daemon's long flag names.
//!
//! `--config FILE` names the file. Each value in it becomes that flag's default, so clap's own
//! order gives the precedence: command-line flag > `GRID_*` environment variable > config file >
//! built-in default. Keys are spelled exactly like the flags (`heartbeat-ms`, not
//! `heartbeat_ms`); a key that is not a flag, a value of the wrong TOML type or one the flag
//! rejects, and an unreadable file are errors naming the file, the line and the key.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue};
use clap::{Arg, ArgAction, Command, Parser};
use toml::de::{DeTable, DeValue};

/// The flag that names the config file; every daemon using this module has it.
pub const CONFIG_FLAG: &str = "config";

/// Flags that make no sense in a file.
const NOT_KEYS: &[&str] = &[CONFIG_FLAG, "help", "version"];

/// A config file that cannot be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line of the problem, when it is on one.
    pub line: Option<usize>,
    /// The key at fault, when there is one.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        match &self.key {
            Some(key) => write!(f, ": key '{key}': {}", self.message),
            None => write!(f, ": {}", self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Why the command line and config file could not be turned into flags.
#[derive(Debug)]
pub enum ParseError {
    /// A command-line or environment problem, or `--help` / `--version`: clap reports it.
    Cli(clap::Error),
    /// A config file problem.
    Config(ConfigError),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cli(e) => write!(f, "{e}"),
            Self::Config(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Parses the process's command line together with its `--config` file; on an error prints it
/// and exits (status 2, like any usage error; `--help` and `--version` exit 0).
pub fn parse<T: Parser>() -> T {
    match try_parse_from(std::env::args_os()) {
        Ok(t) => t,
        Err(ParseError::Cli(e)) => e.exit(),
        Err(ParseError::Config(e)) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}

/// Parses `args` (the program name first) together with the `--config` file they name.
pub fn try_parse_from<T, I, S>(args: I) -> Result<T, ParseError>
where
    T: Parser,
    I: IntoIterator<Item = S>,
    S: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let mut cmd = T::command();
    if let Some(file) = config_path(&cmd, &args) {
        let text = std::fs::read_to_string(&file).map_err(|e| {
            ParseError::Config(ConfigError {
                file: file.clone(),
                line: None,
                key: None,
                message: format!("cannot read the config file (--config): {e}"),
            })
        })?;
        let defaults = settings(&cmd, &file, &text).map_err(ParseError::Config)?;
        for (id, value) in defaults {
            // A value from the file also satisfies a flag the command line must otherwise give.
            cmd = cmd.mut_arg(id, |a| a.default_value(value).required(false));
        }
    }
    let matches = cmd.try_get_matches_from(args).map_err(ParseError::Cli)?;
    T::from_arg_matches(&matches).map_err(ParseError::Cli)
}

/// The `--config` value, read by a lenient first pass (a flag still missing may come from the
/// file itself). `--help` and the like stop that pass; the real parse reports them.
fn config_path(cmd: &Command, args: &[OsString]) -> Option<PathBuf> {
    cmd.get_arguments().find(|a| a.get_id() == CONFIG_FLAG)?;
    let matches = cmd
        .clone()
        .ignore_errors(true)
        .try_get_matches_from(args)
        .ok()?;
    matches
        .try_get_one::<PathBuf>(CONFIG_FLAG)
        .ok()
        .flatten()
        .cloned()
}

/// The TOML type a flag's value must have in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Float,
    Boolean,
    Text,
}

impl Kind {
    fn of(arg: &Arg) -> Self {
        use std::any::TypeId;
        let t = arg.get_value_parser().type_id();
        let integers = [
            TypeId::of::<u8>(),
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<usize>(),
            TypeId::of::<i8>(),
            TypeId::of::<i16>(),
            TypeId::of::<i32>(),
            TypeId::of::<i64>(),
            TypeId::of::<isize>(),
        ];
        if integers.iter().any(|id| t == *id) {
            Self::Integer
        } else if t == TypeId::of::<f32>() || t == TypeId::of::<f64>() {
            Self::Float
        } else if t == TypeId::of::<bool>() {
            Self::Boolean
        } else {
            Self::Text
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Integer => "an integer",
            Self::Float => "a number",
            Self::Boolean => "a boolean (true or false)",
            Self::Text => "a string",
        }
    }
}

/// Reads the file's keys into (flag id, value) pairs, in file order, every one checked.
fn settings(cmd: &Command, file: &Path, text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let error = |offset: Option<usize>, key: Option<&str>, message: String| ConfigError {
        file: file.to_path_buf(),
        line: offset.map(|o| line_of(text, o)),
        key: key.map(str::to_owned),
        message,
    };
    let table = DeTable::parse(text).map_err(|e| {
        let offset = e.span().map(|s| s.start);
        error(offset, None, format!("not valid TOML: {}", e.message()))
    })?;
    // Introspect a built copy: building fills in what derive leaves implicit (the -v counter's
    // parser); the original stays unbuilt so its arguments can still be changed.
    let mut built = cmd.clone();
    built.build();
    let mut entries: Vec<_> = table.get_ref().iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    let mut out = Vec::new();
    for (key, value) in entries {
        let name = key.get_ref().as_ref();
        let at = Some(key.span().start);
        let Some(arg) = built
            .get_arguments()
            .find(|a| a.get_long() == Some(name) && !a.is_positional())
        else {
            return Err(error(at, Some(name), unknown_key(&built, name)));
        };
        if NOT_KEYS.contains(&arg.get_id().as_str()) {
            return Err(error(
                at,
                Some(name),
                "cannot be set in a config file".into(),
            ));
        }
        let kind = Kind::of(arg);
        let at = Some(value.span().start);
        let Some(text_value) = scalar(value.get_ref(), kind) else {
            let found = value.get_ref().type_str();
            let message = format!("must be {}, not {} {found}", kind.name(), article(found));
            return Err(error(at, Some(name), message));
        };
        check(arg, &text_value).map_err(|m| error(at, Some(name), m))?;
        out.push((arg.get_id().as_str().to_owned(), text_value));
    }
    Ok(out)
}

fn article(type_name: &str) -> &'static str {
    if type_name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The value as the flag's text, if its TOML type is the one the flag takes.
fn scalar(value: &DeValue<'_>, kind: Kind) -> Option<String> {
    match (kind, value) {
        (Kind::Text, DeValue::String(s)) => Some(s.to_string()),
        (Kind::Integer, DeValue::Integer(i)) => i128::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n.to_string()),
        (Kind::Float, DeValue::Integer(_)) => scalar(value, Kind::Integer),
        (Kind::Float, DeValue::Float(f)) => Some(f.as_str().to_owned()),
        (Kind::Boolean, DeValue::Boolean(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// Runs the flag's own parser on the value, so a bad address or port is caught here, where the
/// file and line are known.
fn check(arg: &Arg, value: &str) -> Result<(), String> {
    let probe = Command::new("config").no_binary_name(true).arg(
        Arg::new("value")
            .long("value")
            .action(ArgAction::Set)
            .value_parser(arg.get_value_parser().clone()),
    );
    let Err(e) = probe.try_get_matches_from([format!("--value={value}")]) else {
        return Ok(());
    };
    let why = if let Some(source) = std::error::Error::source(&e) {
        source.to_string()
    } else if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
        format!("expected one of {}", valid.join(", "))
    } else {
        e.kind().to_string()
    };
    Err(if arg.is_hide_env_values_set() {
        format!("invalid value: {why}")
    } else {
        format!("invalid value '{value}': {why}")
    })
}

/// The message for a key that is no flag: the likely spelling, or the keys there are.
fn unknown_key(cmd: &Command, name: &str) -> String {
    let keys: Vec<&str> = cmd
        .get_arguments()
        .filter(|a| !NOT_KEYS.contains(&a.get_id().as_str()))
        .filter_map(Arg::get_long)
        .collect();
    let dashed = name.replace('_', "-");
    if keys.contains(&dashed.as_str()) {
        return format!("unknown key; keys are spelled like the flags: '{dashed}'");
    }
    format!(
        "unknown key; the keys of {} are its long flags: {}",
        cmd.get_name(),
        keys.join(", ")
    )
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests;
