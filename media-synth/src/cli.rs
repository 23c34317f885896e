//! The command line: synthesise one song as raw PCM, or make the demo library as MP3 files.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::library::{self, FULL, QUICK};
use crate::song::{Key, Spec, Style, render};

/// The deterministic synthesiser of the demo music library.
#[derive(Debug, Parser)]
#[command(name = "media-synth", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Makes the demo library's missing tracks as tagged MP3 files (encoded in process).
    Library(LibraryArgs),
    /// Writes one song as raw PCM (16-bit little-endian, stereo, 44.1 kHz) to stdout.
    Pcm(PcmArgs),
}

#[derive(Debug, Args)]
pub struct LibraryArgs {
    /// The library folder.
    #[arg(long, env = "MEDIA_DIR", default_value = "media")]
    pub dir: PathBuf,
    /// Three short tracks (CBR 128, CBR 320, VBR) instead of the eight, for tests.
    #[arg(long)]
    pub quick: bool,
    /// Remake tracks that are already there.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PcmArgs {
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

/// Runs the command.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Library(args) => make_library(args),
        Command::Pcm(args) => write_pcm(args),
    }
}

fn make_library(args: &LibraryArgs) -> anyhow::Result<()> {
    let tracks = if args.quick { QUICK } else { FULL };
    let started = std::time::Instant::now();
    let report = library::make(&args.dir, tracks, args.force, |track, path, secs| {
        println!(
            "media-synth: {} - {} ({} s, {}) -> {} in {secs:.1} s",
            track.artist,
            track.title,
            track.seconds,
            track.encoding,
            path.display()
        );
    })?;
    if report.made.is_empty() {
        println!(
            "media-synth: all {} track(s) already in {} (--force remakes them)",
            report.kept,
            args.dir.display()
        );
    } else {
        println!(
            "media-synth: {} track(s) made, {} already there, in {:.1} s; library {}",
            report.made.len(),
            report.kept,
            started.elapsed().as_secs_f64(),
            args.dir.display()
        );
    }
    Ok(())
}

fn write_pcm(args: &PcmArgs) -> anyhow::Result<()> {
    if !(args.seconds > 0.0 && args.seconds <= MAX_SECONDS) {
        bail!(
            "--seconds must be more than 0 and at most {MAX_SECONDS}, not {}",
            args.seconds
        );
    }
    if let Some(t) = args.tempo
        && !(30.0..=300.0).contains(&t)
    {
        bail!("--tempo must be between 30 and 300 beats per minute, not {t}");
    }
    let mut stdout = std::io::stdout().lock();
    if stdout.is_terminal() {
        bail!("refusing to write raw PCM to a terminal; pipe it into a file or a player");
    }
    let spec = Spec::new(args.seed, args.seconds, args.style, args.tempo, args.key);
    let pcm = render(&spec);
    stdout
        .write_all(&pcm)
        .and_then(|()| stdout.flush())
        .context("cannot write the PCM to stdout")?;
    Ok(())
}
