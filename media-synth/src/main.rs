//! `media-synth`: synthesises the demo library's music (issue 3; being written).
fn main() {
    eprintln!("media-synth: not built yet");
    std::process::exit(2);
}
