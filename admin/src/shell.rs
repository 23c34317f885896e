//! The interactive shell: rustyline with history and completion of command words and of the
//! grid's names, each line parsed by the same clap commands as `-e`.

use std::process::ExitCode;

use clap::CommandFactory;
use std::time::Duration;

use grid_proto::api::{AdapterView, ApplicationSummary, NodeView, ServerView};
use grid_proto::client::Client;
use grid_proto::live::ChannelStats;
use grid_proto::paths;
use rustyline::Editor;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use tokio::runtime::Runtime;

use crate::cli::{ShellCommand, ShellLine};
use crate::commands;
use crate::output::Output;
use crate::session::Session;
use grid_proto::console::{Complete, Completion, Flow, Shell, Slot, read_line, run_command};

/// The prompt, as icegridadmin's.
pub const PROMPT: &str = ">>> ";

/// The names the shell completes, fetched from the registry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Names {
    /// Server ids.
    pub servers: Vec<String>,
    /// Node names.
    pub nodes: Vec<String>,
    /// Application names.
    pub applications: Vec<String>,
    /// Adapter ids and replica-group ids.
    pub adapters: Vec<String>,
    /// Live channel names (of the first MediaServer that lists them).
    pub channels: Vec<String>,
}

impl Names {
    /// Fetches every list at once; a list that cannot be fetched stays empty (completion is a
    /// convenience, never a reason to fail).
    pub async fn fetch(client: &Client) -> Self {
        let (servers, nodes, applications, adapters) = tokio::join!(
            client.get::<Vec<ServerView>>(paths::SERVERS),
            client.get::<Vec<NodeView>>(paths::NODES),
            client.get::<Vec<ApplicationSummary>>(paths::APPLICATIONS),
            client.get::<Vec<AdapterView>>(paths::ADAPTERS),
        );
        let mut adapter_ids: Vec<String> = adapters
            .unwrap_or_default()
            .into_iter()
            .flat_map(|a| std::iter::once(a.id).chain(a.replica_group))
            .collect();
        adapter_ids.sort();
        adapter_ids.dedup();
        let channels = channel_names(client).await;
        Self {
            servers: servers
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.id)
                .collect(),
            nodes: nodes
                .unwrap_or_default()
                .into_iter()
                .map(|n| n.name)
                .collect(),
            applications: applications
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.name)
                .collect(),
            adapters: adapter_ids,
            channels,
        }
    }
}

/// The channel names of the first MediaServer of the group that lists them; none on any error.
async fn channel_names(client: &Client) -> Vec<String> {
    let Ok(located) = client.locate(grid_proto::media::SERVER_GROUP).await else {
        return Vec::new();
    };
    for ep in located.endpoints {
        let Ok(server) = Client::with_timeout(&ep.endpoint, &ep.server, Duration::from_secs(2))
        else {
            continue;
        };
        if let Ok(channels) = server.get::<Vec<ChannelStats>>(paths::CHANNELS).await {
            return channels.into_iter().map(|c| c.name).collect();
        }
    }
    Vec::new()
}

/// Rustyline's helper: completion only.
pub struct ShellHelper {
    tree: clap::Command,
    /// The names to complete.
    pub names: Names,
}

impl Default for ShellHelper {
    fn default() -> Self {
        Self {
            tree: ShellLine::command(),
            names: Names::default(),
        }
    }
}

impl ShellHelper {
    /// Candidates for the word that ends at `pos`: (start of the word, candidates, whether it
    /// is a file path instead).
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>, bool) {
        grid_proto::console::candidates(self, line, pos)
    }
}

impl Complete for ShellHelper {
    fn slot(&self, prior: &[&str], current: &str) -> Slot {
        let mut prior = prior;
        let mut top_words = vec!["help".to_owned()];
        if prior.first() == Some(&"help") {
            // `help server st<TAB>`: only command words, no arguments.
            prior = &prior[1..];
            top_words.clear();
        }
        let mut cmd = &self.tree;
        let mut path: Vec<&str> = Vec::new();
        let mut positionals = 0;
        let mut skip_value = false;
        let mut option = "";
        for word in prior {
            if skip_value {
                skip_value = false;
            } else if let Some(sub) = cmd.find_subcommand(word) {
                path.push(sub.get_name());
                cmd = sub;
            } else if word.starts_with('-') {
                option = word;
                skip_value = !word.contains('=')
                    && cmd.get_arguments().any(|a| {
                        let named = word
                            .strip_prefix("--")
                            .map(|l| a.get_long() == Some(l))
                            .unwrap_or_else(|| {
                                word.len() == 2 && a.get_short() == word.chars().nth(1)
                            });
                        named && a.get_action().takes_values()
                    });
            } else {
                positionals += 1;
            }
        }
        if skip_value {
            // The value of the option before it.
            return match (path.first().copied(), option) {
                (Some("channel"), "--server") => Slot::Words(
                    self.names
                        .servers
                        .iter()
                        .filter(|s| s.starts_with("MediaServer"))
                        .cloned()
                        .collect(),
                ),
                _ => Slot::Words(Vec::new()),
            };
        }
        if current.starts_with('-') {
            return Slot::Words(
                cmd.get_arguments()
                    .filter(|a| !a.is_positional())
                    .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                    .collect(),
            );
        }
        if cmd.has_subcommands() {
            if positionals > 0 {
                return Slot::Words(Vec::new());
            }
            let mut all = grid_proto::console::command_words(cmd);
            if path.is_empty() {
                all.append(&mut top_words);
            }
            return Slot::Words(all);
        }
        if top_words.is_empty() {
            return Slot::Words(Vec::new());
        }
        let Some(arg) = cmd.get_positionals().nth(positionals) else {
            return Slot::Words(Vec::new());
        };
        let names = &self.names;
        match (path.first().copied(), arg.get_id().as_str()) {
            (Some("server"), "id") => Slot::Words(names.servers.clone()),
            (Some("node"), "name") => Slot::Words(names.nodes.clone()),
            (Some("application"), "name") => Slot::Words(names.applications.clone()),
            (Some("application"), "file") => Slot::File,
            (Some("adapter"), "id") => Slot::Words(names.adapters.clone()),
            (Some("channel"), "name") => Slot::Words(names.channels.clone()),
            _ => Slot::Words(Vec::new()),
        }
    }
}

/// Reads one line for a credential; `None` at end of input.
fn ask(
    editor: &mut Editor<Completion<ShellHelper>, DefaultHistory>,
    prompt: &str,
) -> Option<String> {
    loop {
        match editor.readline(prompt) {
            Ok(line) => return Some(line.trim().to_owned()),
            Err(ReadlineError::Interrupted) => continue,
            Err(_) => return None,
        }
    }
}

/// Makes the user of a terminal choose their own password before the shell opens; false if
/// they gave up (end of input).
fn change_given_password(rt: &Runtime, session: &mut Session, out: &Output) -> bool {
    out.warning("you are using a password you were given: choose your own before going on");
    let change = crate::cli::Command::User(crate::cli::UserCmd::Passwd { name: None });
    loop {
        match rt.block_on(commands::run(&change, session, out)) {
            Ok(()) => return true,
            Err(e) if e.downcast_ref::<std::io::Error>().is_some() => {
                out.error(&format!("{e:#}"));
                return false;
            }
            Err(e) => out.error(&format!("{e:#}")),
        }
    }
}

/// Runs the shell until `exit`, `quit` or end of input.
pub fn run(rt: &Runtime, session: &mut Session, out: &Output) -> ExitCode {
    let Some(mut shell) = Shell::<Completion<ShellHelper>>::open(".gridadmin_history", out) else {
        return ExitCode::FAILURE;
    };

    if !session.has_credentials() {
        let (user, password) = session.credentials();
        let Some(user) = user.or_else(|| ask(&mut shell.editor, "user: ")) else {
            out.error("no user name given");
            return ExitCode::FAILURE;
        };
        let Some(password) = password.or_else(|| ask(&mut shell.editor, "password: ")) else {
            out.error("no password given");
            return ExitCode::FAILURE;
        };
        session.set_credentials(user, password);
    }
    if let Err(e) = rt.block_on(session.login()) {
        out.error(&format!("{e:#}"));
        return ExitCode::FAILURE;
    }
    if session.must_change_password() {
        if !shell.interactive {
            out.warning(&crate::must_change_warning(session));
        } else if !change_given_password(rt, session, out) {
            return ExitCode::FAILURE;
        }
    }

    shell
        .editor
        .set_helper(Some(Completion::new(ShellHelper::default())));
    let interactive = shell.interactive;
    if interactive {
        refresh_names(rt, session, &mut shell.editor);
        shell.load_history();
    }

    shell.run(PROMPT, out, |editor, line| {
        let Some((ShellLine { command }, out)) = read_line(line, out) else {
            return Flow::Continue;
        };
        match command {
            ShellCommand::Exit => return Flow::Exit,
            ShellCommand::Run(cmd) => {
                match run_command(rt, interactive, commands::run(&cmd, session, &out)) {
                    Ok(()) if interactive && cmd.changes_names() => {
                        refresh_names(rt, session, editor);
                    }
                    Ok(()) => {}
                    Err(e) => out.error(&format!("{e:#}")),
                }
            }
        }
        Flow::Continue
    })
}

/// Refetches the names the shell completes.
fn refresh_names(
    rt: &Runtime,
    session: &mut Session,
    editor: &mut Editor<Completion<ShellHelper>, DefaultHistory>,
) {
    let names = rt.block_on(async {
        match session.client().await {
            Ok(client) => Names::fetch(client).await,
            Err(_) => Names::default(),
        }
    });
    if let Some(helper) = editor.helper_mut() {
        helper.words.names = names;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn helper() -> ShellHelper {
        ShellHelper {
            names: Names {
                servers: vec![
                    "MediaServer-1".into(),
                    "MediaServer-2".into(),
                    "MediaRender-1".into(),
                ],
                nodes: vec!["node1".into(), "node2".into()],
                applications: vec!["Spotifice".into()],
                adapters: vec!["MediaServerGroup".into()],
                channels: vec!["lounge".into(), "relay-lounge".into()],
            },
            ..ShellHelper::default()
        }
    }

    fn complete(line: &str) -> (usize, Vec<String>, bool) {
        helper().candidates(line, line.len())
    }

    #[test]
    fn completes_command_words() {
        let (start, words, _) = complete("");
        assert_eq!(start, 0);
        for w in [
            "adapter",
            "application",
            "exit",
            "help",
            "node",
            "quit",
            "registry",
            "server",
        ] {
            assert!(words.contains(&w.to_owned()), "{w} missing from {words:?}");
        }
        assert_eq!(complete("se").1, ["server", "session"]);
        assert_eq!(complete("us").1, ["user"]);
        assert_eq!(complete("server st").1, ["start", "state", "stop"]);
        assert_eq!(
            complete("server st"),
            (
                7,
                vec!["start".into(), "state".into(), "stop".into()],
                false
            )
        );
        assert_eq!(complete("help ser").1, ["server"]);
        assert_eq!(complete("help server re").1, ["restart"]);
    }

    #[test]
    fn completes_names() {
        let media_servers: &[&str] = &["MediaServer-1", "MediaServer-2"];
        for (line, want) in [
            ("server state MediaS", media_servers),
            ("server log MediaR", &["MediaRender-1"]),
            ("server log --tail 5 MediaR", &["MediaRender-1"]),
            ("node show ", &["node1", "node2"]),
            ("application describe S", &["Spotifice"]),
            ("adapter endpoints M", &["MediaServerGroup"]),
            ("server state MediaServer-1 ", &[]),
            ("server signal MediaServer-1 ", &[]),
            ("server log X --f", &["--follow"]),
            ("channel ", &["list", "show"]),
            ("channel show l", &["lounge"]),
            ("channel show lounge --s", &["--server"]),
            ("channel show lounge --server M", media_servers),
            ("channel show --server MediaServer-1 r", &["relay-lounge"]),
        ] {
            assert_eq!(complete(line).1, want, "{line}");
        }
        assert!(
            complete("application add conf").2,
            "a file is completed as a path"
        );
    }
}
