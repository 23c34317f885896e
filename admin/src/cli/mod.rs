//! The command line and the shell's command language: one clap `Command` enum serves both.

mod access;

use clap::{ArgAction, Args, Parser, Subcommand};
use grid_proto::console;

pub use access::{AuditArgs, SessionCmd, UserCmd};

/// The default registry URL, as in IceGrid's `SpotificeGrid/Locator:tcp -p 4061`.
pub const DEFAULT_REGISTRY: &str = "http://127.0.0.1:4061";

const EXAMPLES: &str = "\
Commands (in the shell, or with -e): application, server, node, adapter, registry, channel, user, session, audit; `-e help` lists them.

Examples:
  gridadmin -u admin -p admin
  gridadmin -u admin -p admin -e \"server state MediaServer-1\"
  gridadmin -u admin -p admin -e \"application add config/spotifice.toml\" -e \"server list\"
  gridadmin -u admin -p admin -e \"channel list\" -e \"channel show lounge\"
  gridadmin -e watch --json
  echo 'a new password' | gridadmin -u admin -p admin -e \"user add alice --role operator\"
  gridadmin -u admin -p admin -e \"audit --since 1h\"
  gridadmin -e \"help server\"";

/// gridadmin: administer a Spotifice Grid.
///
/// Without -e it opens an interactive shell (type `help` there).
#[derive(Debug, Parser)]
#[command(name = "gridadmin", version, after_help = EXAMPLES)]
pub struct Cli {
    /// Admin user name.
    #[arg(short = 'u', long, env = "GRID_USER")]
    pub user: Option<String>,
    /// Admin password.
    #[arg(short = 'p', long, env = "GRID_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// The registry's URL (https:// when it runs with --tls).
    #[arg(long, env = "GRID_REGISTRY_URL", default_value = DEFAULT_REGISTRY, value_name = "URL")]
    pub registry: String,
    /// The grid CA's certificate (the registry's data/ca.pem): an https:// registry must show
    /// a certificate it signed.
    #[arg(long, env = "GRID_CA_FILE", value_name = "FILE")]
    pub ca: Option<std::path::PathBuf>,
    /// Run this command and exit (repeatable: run in order, stop at the first failure).
    #[arg(short = 'e', long = "execute", value_name = "CMD")]
    pub execute: Vec<String>,
    /// Print the registry's JSON replies instead of tables.
    #[arg(long)]
    pub json: bool,
    /// More logging on stderr (-v debug, -vv trace; RUST_LOG overrides).
    #[arg(short, long, action = ArgAction::Count)]
    pub verbose: u8,
}

/// One shell line, or one `-e` argument (`grid_proto::console::ShellLine`).
pub type ShellLine = console::ShellLine<Command>;
/// A shell command: a grid command ([`ShellCommand::Run`]), or leaving the shell.
pub type ShellCommand = console::ShellCommand<Command>;
/// A parsed line: the command, and whether the line asked for JSON.
pub type Line = console::Line<Command>;

impl console::Commands for Command {
    const ABOUT: &'static str = "Spotifice Grid admin commands (`help COMMAND` for details)";
}

/// The grid commands.
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum Command {
    /// Deployed applications: list, describe, add, update, remove, diff.
    #[command(subcommand)]
    Application(ApplicationCmd),
    /// Servers: state, start, stop, logs.
    #[command(subcommand)]
    Server(ServerCmd),
    /// Nodes: list, show, load, ping, shutdown.
    #[command(subcommand)]
    Node(NodeCmd),
    /// Object adapters and their live endpoints.
    #[command(subcommand)]
    Adapter(AdapterCmd),
    /// The registry itself.
    #[command(subcommand)]
    Registry(RegistryCmd),
    /// Live channels of the MediaServers (MediaServerGroup): list, show.
    #[command(subcommand)]
    Channel(ChannelCmd),
    /// Follow the grid's events, one line each, until Ctrl-C (resumes after a registry restart).
    Watch,
    /// Users and roles: list, add, passwd, role, remove.
    #[command(subcommand)]
    User(UserCmd),
    /// Login sessions: list, revoke.
    #[command(subcommand)]
    Session(SessionCmd),
    /// The audit log: every change asked of the registry (who, when, from where, what, result).
    Audit(AuditArgs),
}

impl Command {
    /// True for commands that change the names the shell completes (applications, servers, nodes).
    pub fn changes_names(&self) -> bool {
        matches!(
            self,
            Self::Application(
                ApplicationCmd::Add { .. }
                    | ApplicationCmd::Update { .. }
                    | ApplicationCmd::Remove { .. }
            ) | Self::Node(NodeCmd::Shutdown { .. })
        )
    }
}

/// `application ...`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum ApplicationCmd {
    /// List the applications (one name per line; --long for serial, servers, update time).
    List {
        /// A table with serial, server count and last update.
        #[arg(short, long)]
        long: bool,
    },
    /// Show an application: serial, last update, its servers and its descriptor.
    Describe {
        /// Application name.
        name: String,
    },
    /// Deploy a new application from a descriptor file (TOML, JSON or IceGrid XML).
    Add {
        /// Descriptor file.
        file: String,
    },
    /// Replace a deployed application with the descriptor in FILE (changed servers restart).
    Update {
        /// Descriptor file.
        file: String,
    },
    /// Remove an application and destroy its servers.
    Remove {
        /// Application name.
        name: String,
    },
    /// Show what `application update FILE` (or add) would do to the servers.
    Diff {
        /// Descriptor file.
        file: String,
    },
}

/// `server ...`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum ServerCmd {
    /// List the servers with their application, node, state and pid.
    List,
    /// Print a server's state: `active (pid 4321)`, `inactive`, ...
    State {
        /// Server id.
        id: String,
    },
    /// Print the pid of a running server.
    Pid {
        /// Server id.
        id: String,
    },
    /// Start a server and wait until it is active.
    Start {
        /// Server id.
        id: String,
    },
    /// Stop a server and wait until it is inactive (it stays stopped until started).
    Stop {
        /// Server id.
        id: String,
    },
    /// Stop then start a server.
    Restart {
        /// Server id.
        id: String,
    },
    /// Allow a server to be started.
    Enable {
        /// Server id.
        id: String,
    },
    /// Stop a server from being started (by activation or by an admin).
    Disable {
        /// Server id.
        id: String,
    },
    /// Send a signal to a server's process group.
    Signal {
        /// Server id.
        id: String,
        /// Signal name (SIGHUP, HUP) or number.
        signal: String,
    },
    /// Show a server's descriptor and run-time state.
    Describe {
        /// Server id.
        id: String,
    },
    /// Print a server's log (stdout, or stderr with --stderr).
    Log(LogArgs),
}

/// `server log ID [--tail N] [--follow] [--stderr]`
#[derive(Debug, Clone, PartialEq, Args)]
pub struct LogArgs {
    /// Server id.
    pub id: String,
    /// Only the last N lines.
    #[arg(short = 'n', long, value_name = "N")]
    pub tail: Option<u64>,
    /// Keep printing what is appended, until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
    /// The stderr log instead of stdout.
    #[arg(long)]
    pub stderr: bool,
}

/// `node ...`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum NodeCmd {
    /// List the nodes (one name per line; --long for a table).
    List {
        /// A table with state, host, load and servers.
        #[arg(short, long)]
        long: bool,
    },
    /// Show a node: host, load, memory, endpoint, liveness, servers.
    Show {
        /// Node name.
        name: String,
    },
    /// Like show, with the state of each of the node's servers.
    Describe {
        /// Node name.
        name: String,
    },
    /// Print a node's load averages (1, 5 and 15 minutes).
    Load {
        /// Node name.
        name: String,
    },
    /// Ask a node whether it is alive.
    Ping {
        /// Node name.
        name: String,
    },
    /// Stop a node's servers, then the node.
    Shutdown {
        /// Node name.
        name: String,
    },
}

/// `adapter ...`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum AdapterCmd {
    /// List the adapters with their server, node, replica group and endpoint.
    List,
    /// Print the live endpoints of an adapter id or replica-group id, one per line.
    Endpoints {
        /// Adapter id or replica-group id.
        id: String,
    },
}

/// `registry ...`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum RegistryCmd {
    /// Show the registry: version, address, data directory, uptime, counts.
    Show,
}

/// `channel ...`
#[derive(Debug, Clone, PartialEq, Subcommand)]
pub enum ChannelCmd {
    /// List every channel of every MediaServer of MediaServerGroup, with listeners and traffic.
    List,
    /// Show every stat of one channel, per MediaServer that plays it.
    Show {
        /// Channel name.
        name: String,
        /// Only this MediaServer (server id).
        #[arg(long, value_name = "ID")]
        server: Option<String>,
    },
}

pub use grid_proto::console::LineError;

/// Parses one shell line (or `-e` argument): shell words, then clap.
pub fn parse_line(line: &str) -> Result<Option<Line>, LineError> {
    console::parse_shell_line(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(line: &str) -> ShellCommand {
        parse_line(line).unwrap().unwrap().command
    }

    #[test]
    fn shell_lines_parse_into_commands() {
        assert!(matches!(
            parse("server state MediaServer-1"),
            ShellCommand::Run(Command::Server(ServerCmd::State { id })) if id == "MediaServer-1"
        ));
        assert!(matches!(
            parse("server log 'Media Server' --tail 5 -f"),
            ShellCommand::Run(Command::Server(ServerCmd::Log(LogArgs { id, tail: Some(5), follow: true, stderr: false })))
                if id == "Media Server"
        ));
        assert!(matches!(
            parse("application update config/app.toml"),
            ShellCommand::Run(Command::Application(ApplicationCmd::Update { file }))
                if file == "config/app.toml"
        ));
        assert!(matches!(
            parse("node list"),
            ShellCommand::Run(Command::Node(NodeCmd::List { long: false }))
        ));
        assert!(matches!(
            parse("channel list"),
            ShellCommand::Run(Command::Channel(ChannelCmd::List))
        ));
        assert!(matches!(
            parse("channel show lounge --server MediaServer-2"),
            ShellCommand::Run(Command::Channel(ChannelCmd::Show { name, server: Some(s) }))
                if name == "lounge" && s == "MediaServer-2"
        ));
        assert!(matches!(parse("exit"), ShellCommand::Exit));
        assert!(matches!(parse("quit"), ShellCommand::Exit));
        assert!(parse_line("   ").unwrap().is_none());
    }

    #[test]
    fn bad_lines_are_errors() {
        assert!(matches!(
            parse_line("server 'open"),
            Err(LineError::Quoting)
        ));
        let Err(LineError::Clap(e)) = parse_line("server frobnicate X") else {
            panic!("expected a clap error")
        };
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidSubcommand);
        let Err(LineError::Clap(e)) = parse_line("server state") else {
            panic!("expected a clap error")
        };
        assert_eq!(e.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn help_lists_the_commands() {
        let Err(LineError::Clap(e)) = parse_line("help") else {
            panic!("help should come back as clap's help")
        };
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        let text = e.render().to_string();
        for word in [
            "application",
            "server",
            "node",
            "adapter",
            "registry",
            "channel",
            "exit",
        ] {
            assert!(text.contains(word), "{word} missing from help:\n{text}");
        }
        let Err(LineError::Clap(e)) = parse_line("help server") else {
            panic!("help server should come back as clap's help")
        };
        let text = e.render().to_string();
        for word in ["state", "start", "stop", "log", "signal"] {
            assert!(
                text.contains(word),
                "{word} missing from server help:\n{text}"
            );
        }
    }

    #[test]
    fn clap_definitions_are_consistent() {
        Cli::command().debug_assert();
        ShellLine::command().debug_assert();
    }

    #[test]
    fn cli_flags() {
        use clap::Parser as _;
        let cli = Cli::try_parse_from([
            "gridadmin",
            "-u",
            "admin",
            "-p",
            "pw",
            "--json",
            "-e",
            "server list",
            "-e",
            "node list",
            "--registry",
            "http://h:1",
        ])
        .unwrap();
        assert_eq!(cli.user.as_deref(), Some("admin"));
        assert_eq!(cli.password.as_deref(), Some("pw"));
        assert_eq!(cli.execute, ["server list", "node list"]);
        assert_eq!(cli.registry, "http://h:1");
        assert!(cli.json);
    }

    #[test]
    fn a_line_takes_json_anywhere() {
        for line in [
            "server list --json",
            "--json server list",
            "server --json list",
        ] {
            let parsed = parse_line(line).unwrap().unwrap();
            assert!(parsed.json, "{line}");
            assert!(
                matches!(
                    parsed.command,
                    ShellCommand::Run(Command::Server(ServerCmd::List))
                ),
                "{line}: {:?}",
                parsed.command
            );
        }
        assert!(!parse_line("server list").unwrap().unwrap().json);
    }
}
