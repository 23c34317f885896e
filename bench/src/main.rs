//! `gridbench`: measures a real grid started from the release binaries. See `scripts/bench-grid.sh`.

fn main() -> anyhow::Result<()> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.worker_threads(1);
    grid_bench::bin_main(runtime, grid_bench::run)
}
