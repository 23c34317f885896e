//! `icyload`: the live channels load generator and relay latency probe. See
//! `scripts/bench-listeners.sh` and `grid_bench::listeners`.

fn main() -> anyhow::Result<()> {
    // One thread for every listener: the generator stays on its one core (`taskset -c 1`) and
    // leaves the other to the server it measures.
    grid_bench::bin_main(
        tokio::runtime::Builder::new_current_thread(),
        grid_bench::listeners::main,
    )
}
