//! Reading a new password: hidden from a terminal (asked twice), or one line of stdin when
//! gridadmin runs a script (`-e`) with stdin redirected. Never from the command line, where
//! other users would see it in the process list.

use std::io::{BufRead, IsTerminal};

use anyhow::{Result, bail};

/// The new password for `whose` (`alice's`, `your`).
pub fn new_password(whose: &str, scripted: bool) -> Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("new password for {whose}: "))?;
        if first.is_empty() {
            // An empty line or end of input: the user gave up.
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "no new password given",
            )
            .into());
        }
        let again = rpassword::prompt_password("repeat it: ")?;
        if first != again {
            bail!("the two passwords differ; nothing was changed");
        }
        return Ok(first);
    }
    if !scripted {
        bail!("a new password is read from a terminal, or from stdin with -e");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("no new password on stdin (give it as the first line)");
    }
    Ok(password.to_owned())
}
