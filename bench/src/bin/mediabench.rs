//! `mediabench`: the media plane benchmark. See `scripts/bench-failover.sh`.
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = grid_bench::media::MediaCli::parse();
    // One worker: the client leaves the other core to the servers it measures.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(grid_bench::media::run(cli))
}
