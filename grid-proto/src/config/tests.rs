use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

use super::{ConfigError, ParseError, try_parse_from};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Stop,
    Leave,
}

/// Every kind of flag the daemons have.
#[derive(Debug, Parser)]
#[command(name = "toy")]
struct Toy {
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "127.0.0.1:1")]
    listen: SocketAddr,
    #[arg(long, default_value_t = 1000)]
    heartbeat_ms: u64,
    #[arg(long, value_enum, default_value_t = Mode::Stop)]
    on_stop: Mode,
    #[arg(long, hide_env_values = true)]
    secret: Option<String>,
    #[arg(long)]
    fast: bool,
    #[arg(long, default_value_t = 0.5)]
    ratio: f64,
    #[arg(short, long, action = ArgAction::Count)]
    verbose: u8,
}

struct File {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn file(text: &str) -> File {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toy.toml");
    std::fs::write(&path, text).unwrap();
    File { _dir: dir, path }
}

fn parse(f: &File, extra: &[&str]) -> Result<Toy, ParseError> {
    let mut args = vec!["toy".to_owned(), "--config".into()];
    args.push(f.path.display().to_string());
    args.extend(extra.iter().map(|s| s.to_string()));
    try_parse_from::<Toy, _, _>(args)
}

fn config_error(f: &File, extra: &[&str]) -> ConfigError {
    match parse(f, extra) {
        Err(ParseError::Config(e)) => e,
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn file_values_are_defaults_that_flags_override() {
    let f = file(
        "# a comment\nname = \"from-file\"\nlisten = \"127.0.0.1:4061\"\nheartbeat-ms = 0x10\n\
         on-stop = \"leave\"\nfast = true\nratio = 2\nverbose = 2\nsecret = \"s3\"\n",
    );
    let t = parse(&f, &[]).unwrap();
    assert_eq!(t.name, "from-file");
    assert_eq!(t.listen, "127.0.0.1:4061".parse().unwrap());
    assert_eq!(t.heartbeat_ms, 16);
    assert_eq!(t.on_stop, Mode::Leave);
    assert!(t.fast);
    assert_eq!(t.ratio, 2.0);
    assert_eq!(t.verbose, 2);
    assert_eq!(t.secret.as_deref(), Some("s3"));

    let t = parse(
        &f,
        &[
            "--name",
            "flag",
            "--heartbeat-ms",
            "7",
            "--on-stop=stop",
            "-v",
        ],
    )
    .unwrap();
    assert_eq!(
        (t.name.as_str(), t.heartbeat_ms, t.on_stop, t.verbose),
        ("flag", 7, Mode::Stop, 1)
    );
    // Untouched by flags: still the file's.
    assert_eq!(t.listen, "127.0.0.1:4061".parse().unwrap());
}

#[test]
fn keys_left_out_keep_the_built_in_defaults() {
    let f = file("name = \"n\"\n");
    let t = parse(&f, &[]).unwrap();
    assert_eq!(t.listen, "127.0.0.1:1".parse().unwrap());
    assert_eq!(
        (t.heartbeat_ms, t.on_stop, t.fast, t.verbose),
        (1000, Mode::Stop, false, 0)
    );
    // Without --config nothing is read, and a required flag is required again.
    let t = try_parse_from::<Toy, _, _>(["toy", "--name", "x"]).unwrap();
    assert_eq!((t.name.as_str(), t.heartbeat_ms), ("x", 1000));
    assert!(matches!(
        try_parse_from::<Toy, _, _>(["toy"]),
        Err(ParseError::Cli(_))
    ));
}

#[test]
fn an_unknown_key_names_file_line_and_key_and_lists_the_keys() {
    let f = file("name = \"n\"\n\nhearbeat-ms = 5\n");
    let e = config_error(&f, &[]);
    assert_eq!(e.line, Some(3));
    assert_eq!(e.key.as_deref(), Some("hearbeat-ms"));
    assert_eq!(
        e.to_string(),
        format!(
            "{}:3: key 'hearbeat-ms': unknown key; the keys of toy are its long flags: name, \
             listen, heartbeat-ms, on-stop, secret, fast, ratio, verbose",
            f.path.display()
        )
    );
}

#[test]
fn underscores_are_not_accepted_but_pointed_at_the_flag_spelling() {
    let f = file("heartbeat_ms = 5\n");
    let e = config_error(&f, &["--name", "n"]);
    assert_eq!((e.line, e.key.as_deref()), (Some(1), Some("heartbeat_ms")));
    assert_eq!(
        e.message,
        "unknown key; keys are spelled like the flags: 'heartbeat-ms'"
    );
}

#[test]
fn a_value_of_the_wrong_type_is_refused() {
    let cases = [
        (
            "heartbeat-ms = \"1000\"",
            "must be an integer, not a string",
        ),
        ("name = 5", "must be a string, not an integer"),
        (
            "fast = \"yes\"",
            "must be a boolean (true or false), not a string",
        ),
        ("ratio = true", "must be a number, not a boolean"),
        ("listen = [\"a\"]", "must be a string, not an array"),
        ("[name]\nx = 1", "must be a string, not a table"),
    ];
    for (text, message) in cases {
        let f = file(&format!("# first\n{text}\n"));
        let e = config_error(&f, &["--name", "n"]);
        assert_eq!(e.line, Some(2), "{text}");
        assert_eq!(e.message, message, "{text}");
    }
}

#[test]
fn a_value_the_flag_rejects_is_refused_with_its_reason() {
    let f = file("name = \"n\"\nlisten = \"localhost\"\n");
    let e = config_error(&f, &[]);
    assert_eq!((e.line, e.key.as_deref()), (Some(2), Some("listen")));
    assert_eq!(
        e.message,
        "invalid value 'localhost': invalid socket address syntax"
    );
    let f = file("on-stop = \"keep\"\n");
    let e = config_error(&f, &["--name", "n"]);
    assert_eq!(
        e.message,
        "invalid value 'keep': expected one of stop, leave"
    );
    let f = file("heartbeat-ms = -1\n");
    assert!(
        config_error(&f, &["--name", "n"])
            .message
            .starts_with("invalid value '-1': ")
    );
}

#[test]
fn config_help_and_version_are_not_keys() {
    let f = file("config = \"other.toml\"\n");
    let e = config_error(&f, &["--name", "n"]);
    assert_eq!(
        (e.key.as_deref(), e.message.as_str()),
        (Some("config"), "cannot be set in a config file")
    );
}

#[test]
fn broken_toml_and_missing_files_name_the_file() {
    let f = file("name = \"n\"\nlisten = \n");
    let e = config_error(&f, &[]);
    assert_eq!((e.line, e.key.as_deref()), (Some(2), None));
    assert!(e.message.starts_with("not valid TOML: "), "{}", e.message);
    let f = file("name = \"a\"\nname = \"b\"\n");
    assert_eq!(config_error(&f, &[]).line, Some(2));

    let missing = PathBuf::from("/nonexistent/toy.toml");
    let err = try_parse_from::<Toy, _, _>(["toy", "--config", "/nonexistent/toy.toml"]);
    let Err(ParseError::Config(e)) = err else {
        panic!("expected a config error, got {err:?}");
    };
    assert_eq!((&e.file, e.line, &e.key), (&missing, None, &None));
    assert_eq!(
        e.to_string(),
        "/nonexistent/toy.toml: cannot read the config file (--config): No such file or \
         directory (os error 2)"
    );
}
