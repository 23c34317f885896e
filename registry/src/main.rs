//! `gridregistry` entry point; everything testable lives in the library.
use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let cli: grid_registry::cli::Cli = grid_proto::config::parse();
    grid_proto::telemetry::init_tracing(cli.verbose);
    // Everything the registry writes (its database above all) is its user's alone; it starts
    // no other program that would inherit this.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(cli.listen)
            .await
            .with_context(|| format!("binding {}", cli.listen))?;
        grid_registry::run(
            (&cli).into(),
            listener,
            grid_proto::shutdown::shutdown_signal(),
        )
        .await
    })
}
