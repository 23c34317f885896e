//! `consolebench`: the web console under a large grid. See `scripts/bench-console.sh`.

fn main() -> anyhow::Result<()> {
    use clap::Parser;
    grid_bench::console::main(grid_bench::console::Cli::parse())
}
