//! The interactive shell: rustyline with history and completion of command words and render
//! names, each line parsed by the same clap commands as the command line (as gridadmin's).

use std::process::ExitCode;

use clap::CommandFactory;
use tokio::runtime::Runtime;

use crate::cli::{ShellCommand, ShellLine};
use crate::commands;
use crate::locate::Grid;
use crate::output::Output;
use grid_proto::console::{Complete, Completion, Flow, Shell, Slot, read_line, run_command};

/// The prompt.
pub const PROMPT: &str = "media> ";

/// Rustyline's helper: completion only.
#[derive(Debug, Default)]
pub struct ShellHelper {
    /// Render ids, fetched when the shell starts.
    pub renders: Vec<String>,
    /// Live channel names, fetched when the shell starts.
    pub channels: Vec<String>,
}

impl ShellHelper {
    /// Candidates for the word that ends at `pos`: (start of the word, candidates).
    pub fn candidates(&self, line: &str, pos: usize) -> (usize, Vec<String>) {
        let (start, words, _) = grid_proto::console::candidates(self, line, pos);
        (start, words)
    }
}

impl Complete for ShellHelper {
    fn slot(&self, prior: &[&str], _current: &str) -> Slot {
        Slot::Words(match prior {
            [] => {
                let mut w = grid_proto::console::command_words(&ShellLine::command());
                w.push("help".into());
                w
            }
            ["help"] => ShellLine::command()
                .get_subcommands()
                .map(|s| s.get_name().to_owned())
                .collect(),
            [cmd]
                if !matches!(
                    *cmd,
                    "renders" | "library" | "channels" | "exit" | "quit" | "help"
                ) =>
            {
                self.renders.clone()
            }
            ["channel", _] => self.channels.clone(),
            ["queue", _] => vec!["add".into(), "clear".into(), "list".into()],
            _ => Vec::new(),
        })
    }
}

/// Runs the shell until `exit`, `quit` or end of input. Failed commands print their error and
/// the shell goes on; the exit code is 0.
pub fn run(rt: &Runtime, grid: &Grid, out: &Output) -> ExitCode {
    let Some(mut shell) = Shell::<Completion<ShellHelper>>::open(".media_control_history", out)
    else {
        return ExitCode::FAILURE;
    };
    let interactive = shell.interactive;
    if interactive {
        // Completion is a convenience: a registry that does not answer leaves it empty.
        let renders = rt
            .block_on(grid.renders())
            .map(|r| r.into_iter().map(|r| r.id).collect())
            .unwrap_or_default();
        let channels = rt
            .block_on(grid.channels())
            .map(|(_, c)| c.into_iter().map(|c| c.name).collect())
            .unwrap_or_default();
        shell
            .editor
            .set_helper(Some(Completion::new(ShellHelper { renders, channels })));
        shell.load_history();
    }

    let prompt = if interactive { PROMPT } else { "" };
    shell.run(prompt, out, |_, line| {
        let Some((ShellLine { command }, out)) = read_line(line, out) else {
            return Flow::Continue;
        };
        match command {
            ShellCommand::Exit => return Flow::Exit,
            ShellCommand::Run(crate::cli::Command::IcyDecode { .. }) => {
                // The shell's own input is standard input.
                out.error(
                    "icy-decode reads standard input: run `media-control icy-decode` in a pipe",
                );
            }
            ShellCommand::Run(cmd) => {
                if let Err(e) = run_command(rt, interactive, commands::run(&cmd, grid, &out)) {
                    out.error(&crate::explain(&e, grid));
                }
            }
        }
        Flow::Continue
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(line: &str) -> Vec<String> {
        let h = ShellHelper {
            renders: vec!["MediaRender-1".into(), "MediaRender-2".into()],
            channels: vec!["lounge".into(), "relay-lounge".into()],
        };
        h.candidates(line, line.len()).1
    }

    #[test]
    fn completes_commands_renders_and_queue_actions() {
        let all = complete("");
        for w in [
            "renders", "library", "load", "status", "queue", "exit", "help",
        ] {
            assert!(all.contains(&w.to_owned()), "{w} missing from {all:?}");
        }
        assert_eq!(complete("st"), ["status", "stop"]);
        assert_eq!(complete("play Media"), ["MediaRender-1", "MediaRender-2"]);
        assert_eq!(complete("queue MediaRender-1 c"), ["clear"]);
        assert!(complete("library ").is_empty());
        assert!(complete("channels ").is_empty());
        assert_eq!(complete("chan"), ["channel", "channels"]);
        assert_eq!(complete("channel M"), ["MediaRender-1", "MediaRender-2"]);
        assert_eq!(complete("channel MediaRender-1 re"), ["relay-lounge"]);
        assert_eq!(
            complete("help q"),
            ["queue", "quit"].map(String::from).to_vec()[..1]
        );
    }
}
