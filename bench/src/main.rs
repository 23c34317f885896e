//! `gridbench`: measures a real grid started from the release binaries. See `scripts/bench-grid.sh`.
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = grid_bench::Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    rt.block_on(grid_bench::run(cli))
}
