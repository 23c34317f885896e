//! The control port's command language, parsed apart from what a command does, so the parser
//! can be fuzzed on its own: `CONECTAR <udp-port> [channel]`, `INTERRUMPIR`, `CONTINUAR`,
//! `DESCONECTAR`, or their English aliases (`CONNECT`, `PAUSE`, `RESUME`, `DISCONNECT`), in any
//! case, words separated by ASCII whitespace, an optional `\r` before the newline.

/// A command line, understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send a channel (the first when none is named) to this UDP port of the peer.
    Connect {
        /// 1 to 65535.
        port: u16,
        /// A channel name, as given.
        channel: Option<String>,
    },
    /// Stop sending for now (`INTERRUMPIR`), or again (`CONTINUAR`).
    Pause(bool),
    /// End the subscription and the connection.
    Disconnect,
}

/// Parses one command line (without its newline); the `ERR` reason when it is not one.
pub fn parse(line: &[u8]) -> Result<Command, String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_ascii_whitespace();
    let Some(word) = words.next() else {
        return Err("empty command".into());
    };
    let args: Vec<&str> = words.collect();
    let verb = word.to_ascii_uppercase();
    let no_args = |command: Command| {
        if args.is_empty() {
            Ok(command)
        } else {
            Err(format!("{verb} takes no arguments"))
        }
    };
    match verb.as_str() {
        "CONECTAR" | "CONNECT" => connect(&verb, &args),
        "INTERRUMPIR" | "PAUSE" => no_args(Command::Pause(true)),
        "CONTINUAR" | "RESUME" => no_args(Command::Pause(false)),
        "DESCONECTAR" | "DISCONNECT" => no_args(Command::Disconnect),
        _ => Err(format!(
            "unknown command '{word}' (CONECTAR, INTERRUMPIR, CONTINUAR or DESCONECTAR)"
        )),
    }
}

fn connect(verb: &str, args: &[&str]) -> Result<Command, String> {
    let (port, channel) = match args {
        [] => {
            return Err(format!(
                "{verb} needs a UDP port: {verb} <udp-port> [channel]"
            ));
        }
        [port] => (*port, None),
        [port, name] => (*port, Some((*name).to_owned())),
        _ => return Err(format!("{verb} takes a UDP port and a channel, no more")),
    };
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(Command::Connect { port, channel }),
        _ => Err(format!("bad UDP port '{port}': must be 1 to 65535")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_in_either_language_and_any_case() {
        assert_eq!(
            parse(b"conectar 5000 lounge\r"),
            Ok(Command::Connect {
                port: 5000,
                channel: Some("lounge".into())
            })
        );
        assert_eq!(parse(b"PAUSE"), Ok(Command::Pause(true)));
        assert_eq!(parse(b" continuar "), Ok(Command::Pause(false)));
        assert_eq!(parse(b"DISCONNECT"), Ok(Command::Disconnect));
        assert_eq!(parse(b""), Err("empty command".into()));
        assert_eq!(parse(b"PAUSE now"), Err("PAUSE takes no arguments".into()));
        assert_eq!(
            parse(b"CONNECT 0"),
            Err("bad UDP port '0': must be 1 to 65535".into())
        );
        assert!(
            parse(&[0xff, 0xfe, b' ', b'1'])
                .unwrap_err()
                .contains("unknown command")
        );
    }
}
