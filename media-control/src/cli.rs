//! The command line and the shell's command language: one clap `Command` enum serves both, as in
//! gridadmin.

use clap::{Parser, Subcommand};
use grid_proto::console;

/// The registry's default URL.
pub const DEFAULT_REGISTRY: &str = "http://127.0.0.1:4061";

const EXAMPLES: &str = "\
TRACK is a 16-hex track id or a unique, case-insensitive part of a title (several words are joined).
RENDER is a render's server id (MediaRender-1); `renders` lists them.

Examples:
  media-control renders
  media-control library
  media-control load MediaRender-1 night transit
  media-control play MediaRender-1
  media-control status MediaRender-1
  media-control queue MediaRender-1 add 'glass avenue'
  media-control channels
  media-control channel MediaRender-1 lounge
  curl -s -H 'Icy-MetaData: 1' http://SERVER/live/lounge | head -c 200000 | media-control icy-decode
  media-control                     # the interactive shell";

/// media-control: play music on the Spotifice Grid's renders.
///
/// With no command it opens an interactive shell (type `help` there).
#[derive(Debug, Parser)]
#[command(name = "media-control", version, after_help = EXAMPLES)]
pub struct Cli {
    /// The registry's URL.
    #[arg(
        long,
        env = "GRID_REGISTRY_URL",
        default_value = DEFAULT_REGISTRY,
        value_name = "URL",
        global = true
    )]
    pub registry: String,
    /// The grid CA's certificate, for an https:// registry (its data/ca.pem).
    #[arg(long, env = "GRID_CA_FILE", value_name = "FILE", global = true)]
    pub ca: Option<std::path::PathBuf>,
    /// User to drive renders as (an operator or an admin of the registry).
    #[arg(short = 'u', long, env = "GRID_USER", global = true)]
    pub user: Option<String>,
    /// That user's password.
    #[arg(
        short = 'p',
        long,
        env = "GRID_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub password: Option<String>,
    /// Print the JSON replies instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// The command (none: the shell).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// One shell line (`grid_proto::console::ShellLine`).
pub type ShellLine = console::ShellLine<Command>;
/// A shell command: a media command ([`ShellCommand::Run`]), or leaving the shell.
pub type ShellCommand = console::ShellCommand<Command>;
/// A parsed line: the command, and whether the line asked for JSON.
pub type Line = console::Line<Command>;

impl console::Commands for Command {
    const ABOUT: &'static str = "Spotifice media commands (`help COMMAND` for details)";
}

/// The media commands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// List the renders with their endpoint and playback state.
    Renders,
    /// List the MediaServers' library.
    Library,
    /// Load a track on a render (it starts stopped at 0; `play` plays it).
    Load {
        /// Render id.
        render: String,
        /// Track id or part of a title.
        #[arg(required = true, num_args = 1..)]
        track: Vec<String>,
    },
    /// Play the loaded track.
    Play {
        /// Render id.
        render: String,
    },
    /// Pause, keeping the position.
    Pause {
        /// Render id.
        render: String,
    },
    /// Resume after a pause.
    Resume {
        /// Render id.
        render: String,
    },
    /// Stop playing.
    Stop {
        /// Render id.
        render: String,
    },
    /// Skip to the next track of the queue.
    Next {
        /// Render id.
        render: String,
    },
    /// List the live channels of the first MediaServer that answers: name, kind, listeners, title.
    Channels,
    /// Decode an ICY stream on standard input: its metaint, audio bytes and titles
    /// (`curl -s -H 'Icy-MetaData: 1' http://SERVER/live/lounge | head -c 200000 | media-control icy-decode`).
    IcyDecode {
        /// Audio bytes between metadata blocks, when the input has no reply head (`curl -i` gives one).
        #[arg(long, default_value_t = std::num::NonZeroUsize::new(16_000).expect("not zero"))]
        metaint: std::num::NonZeroUsize,
    },
    /// Play a live channel on a render (`stop` leaves it; loading a track does too).
    Channel {
        /// Render id.
        render: String,
        /// Channel name (`channels` lists them).
        name: String,
    },
    /// Show a render's state, track or channel, position, buffer, server and failovers.
    Status {
        /// Render id.
        render: String,
    },
    /// A render's play queue: add, clear, list.
    Queue {
        /// Render id.
        render: String,
        /// What to do with the queue.
        #[command(subcommand)]
        action: QueueAction,
    },
}

impl Command {
    /// The render the command addresses, if any.
    pub fn render(&self) -> Option<&str> {
        match self {
            Self::Renders | Self::Library | Self::Channels | Self::IcyDecode { .. } => None,
            Self::Load { render, .. }
            | Self::Play { render }
            | Self::Pause { render }
            | Self::Resume { render }
            | Self::Stop { render }
            | Self::Next { render }
            | Self::Status { render }
            | Self::Channel { render, .. }
            | Self::Queue { render, .. } => Some(render),
        }
    }
}

/// `queue RENDER ...`
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum QueueAction {
    /// Append a track.
    Add {
        /// Track id or part of a title.
        #[arg(required = true, num_args = 1..)]
        track: Vec<String>,
    },
    /// Empty the queue.
    Clear,
    /// List the queue.
    List,
}

pub use grid_proto::console::LineError;

/// Parses one shell line: shell words, then clap.
pub fn parse_line(line: &str) -> Result<Option<Line>, LineError> {
    console::parse_shell_line(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> Command {
        match parse_line(line).map(|l| l.map(|l| l.command)) {
            Ok(Some(ShellCommand::Run(c))) => c,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn lines_parse() {
        assert_eq!(
            parse("load MediaRender-1 night transit"),
            Command::Load {
                render: "MediaRender-1".into(),
                track: vec!["night".into(), "transit".into()]
            }
        );
        assert_eq!(
            parse("queue MediaRender-2 add 'Glass Avenue'"),
            Command::Queue {
                render: "MediaRender-2".into(),
                action: QueueAction::Add {
                    track: vec!["Glass Avenue".into()]
                }
            }
        );
        assert_eq!(
            parse("queue R list"),
            Command::Queue {
                render: "R".into(),
                action: QueueAction::List
            }
        );
        assert_eq!(parse("status R").render(), Some("R"));
        assert_eq!(
            parse("channel R lounge"),
            Command::Channel {
                render: "R".into(),
                name: "lounge".into()
            }
        );
        assert_eq!(parse("channels"), Command::Channels);
        assert!(matches!(parse_line("channel R"), Err(LineError::Clap(_))));
        assert!(matches!(
            parse_line("quit"),
            Ok(Some(Line {
                command: ShellCommand::Exit,
                ..
            }))
        ));
        assert!(matches!(parse_line("  "), Ok(None)));
        assert!(matches!(parse_line("load 'x"), Err(LineError::Quoting)));
        assert!(matches!(parse_line("load R"), Err(LineError::Clap(_))));
        assert!(matches!(parse_line("frobnicate"), Err(LineError::Clap(_))));
    }

    #[test]
    fn cli_flags() {
        let cli = Cli::try_parse_from([
            "media-control",
            "--registry",
            "http://h:1",
            "--json",
            "library",
        ])
        .unwrap();
        assert_eq!(cli.registry, "http://h:1");
        assert!(cli.json);
        assert_eq!(cli.command, Some(Command::Library));
        let cli = Cli::try_parse_from(["media-control"]).unwrap();
        assert_eq!(cli.command, None);
    }

    #[test]
    fn global_flags_go_anywhere_on_the_line() {
        for args in [
            &[
                "media-control",
                "library",
                "--json",
                "--registry",
                "http://h:2",
            ][..],
            &[
                "media-control",
                "--json",
                "library",
                "--registry",
                "http://h:2",
            ],
            &[
                "media-control",
                "--registry",
                "http://h:2",
                "library",
                "--json",
            ],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert!(cli.json, "{args:?}");
            assert_eq!(cli.registry, "http://h:2", "{args:?}");
            assert_eq!(cli.command, Some(Command::Library), "{args:?}");
        }
        let cli =
            Cli::try_parse_from(["media-control", "status", "MediaRender-1", "--json"]).unwrap();
        assert!(cli.json);
        for line in ["library --json", "--json library"] {
            let parsed = parse_line(line).unwrap().unwrap();
            assert!(parsed.json, "{line}");
            assert!(matches!(
                parsed.command,
                ShellCommand::Run(Command::Library)
            ));
        }
        assert!(!parse_line("library").unwrap().unwrap().json);
    }

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
        ShellLine::command().debug_assert();
    }
}
