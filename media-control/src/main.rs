//! `media-control`: the seed's command-line control client (issue 3; being written).
fn main() {
    eprintln!("media-control: not built yet");
    std::process::exit(2);
}
