//! `mediabench`: the media plane benchmark. See `scripts/bench-failover.sh`.

fn main() -> anyhow::Result<()> {
    // One thread, which also drives the sockets: the client leaves the other core to the
    // servers it measures, and no wake-up crosses threads on the hot paths.
    grid_bench::bin_main(
        tokio::runtime::Builder::new_current_thread(),
        grid_bench::media::run,
    )
}
