//! `treebench`: the live channels' distribution tree benchmark. See `scripts/bench-tree.sh`.
use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = grid_bench::tree::TreeCli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(grid_bench::tree::main(cli))
}
