//! The command line: what to synthesise, and writing the PCM to stdout.

use std::io::{IsTerminal, Write};

use anyhow::{Context, bail};
use clap::Parser;

use crate::song::{Key, Spec, Style, render};

/// Synthesises a song as raw PCM (16-bit little-endian, stereo, 44.1 kHz) on stdout, for
/// `lame -r -s 44.1 --bitwidth 16 --signed --little-endian - out.mp3`.
#[derive(Debug, Parser)]
#[command(name = "media-synth", version)]
pub struct Cli {
    /// Seed of every choice (chords, melody, groove); same seed, same song.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Length in seconds.
    #[arg(long)]
    pub seconds: f64,
    /// Style.
    #[arg(long, value_enum, default_value_t = Style::Pop)]
    pub style: Style,
    /// Beats per minute (default: drawn from the seed within the style's range).
    #[arg(long)]
    pub tempo: Option<f32>,
    /// Key, e.g. C, Am, F#m, Bb (default: drawn from the seed).
    #[arg(long)]
    pub key: Option<Key>,
}

/// The longest song we make: an hour of PCM is 635 MB, already more than anyone wants.
const MAX_SECONDS: f64 = 3600.0;

/// Checks the arguments, renders the song and writes it to stdout.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    if !(cli.seconds > 0.0 && cli.seconds <= MAX_SECONDS) {
        bail!(
            "--seconds must be more than 0 and at most {MAX_SECONDS}, not {}",
            cli.seconds
        );
    }
    if let Some(t) = cli.tempo
        && !(30.0..=300.0).contains(&t)
    {
        bail!("--tempo must be between 30 and 300 beats per minute, not {t}");
    }
    let mut stdout = std::io::stdout().lock();
    if stdout.is_terminal() {
        bail!("refusing to write raw PCM to a terminal; pipe it into lame or a file");
    }
    let spec = Spec::new(cli.seed, cli.seconds, cli.style, cli.tempo, cli.key);
    let pcm = render(&spec);
    stdout
        .write_all(&pcm)
        .and_then(|()| stdout.flush())
        .context("cannot write the PCM to stdout")?;
    Ok(())
}
