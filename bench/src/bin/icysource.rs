//! `icysource ADDR [TICK_MS]`: the stand-in ICY channel of `grid_bench::icysource` on ADDR
//! (`/live/test`, 128 kbit/s), to measure `icyload` alone. Prints the bound address, then serves
//! until killed.
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let tick_ms: u64 = args.next().map_or(Ok(250), |a| a.parse())?;
    grid_bench::listeners::raise_nofile_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let src = grid_bench::icysource::Source::new();
        let mode = grid_bench::icysource::Mode::Normal;
        let tick = Duration::from_millis(tick_ms);
        let addr = grid_bench::icysource::serve(&listen, src, mode, Duration::ZERO, tick).await?;
        println!("{addr}");
        std::future::pending::<anyhow::Result<()>>().await
    })
}
