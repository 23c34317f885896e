//! `mediabench`: the media plane benchmark. See `scripts/bench-failover.sh`.
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = grid_bench::media::MediaCli::parse();
    // One thread, which also drives the sockets: the client leaves the other core to the
    // servers it measures, and no wake-up crosses threads on the hot paths.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(grid_bench::media::run(cli))
}
