//! `icyload`: the live channels load generator and relay latency probe. See
//! `scripts/bench-listeners.sh` and `grid_bench::listeners`.
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = grid_bench::listeners::LoadCli::parse();
    // One thread for every listener: the generator stays on its one core (`taskset -c 1`) and
    // leaves the other to the server it measures.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(grid_bench::listeners::main(cli))
}
