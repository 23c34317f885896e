//! `treebench`: the live channels' distribution tree benchmark. See `scripts/bench-tree.sh`.

fn main() -> anyhow::Result<()> {
    grid_bench::bin_main(
        tokio::runtime::Builder::new_multi_thread(),
        grid_bench::tree::main,
    )
}
