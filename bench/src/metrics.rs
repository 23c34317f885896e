//! The registry's `GET /metrics` under load: an application of `servers` manual servers (each
//! with an adapter) deployed beside the four of the grid, then the time of one scrape, the
//! registry's CPU time per scrape (scrapes back to back), and its CPU use over some seconds
//! with and without a scrape every second, read from `/proc/PID/stat`.

use std::time::{Duration, Instant};

use anyhow::Context;

use crate::grid::Grid;
use crate::stats::Summary;

/// `servers` servers that never start (manual activation), alternating between the nodes.
fn descriptor(servers: usize) -> String {
    let mut d = String::from(
        "name = \"MetricsLoad\"\n\
         [templates.Idle]\nparameters = [\"index\"]\n\
         [templates.Idle.server]\nid = \"Idle-${index}\"\nexe = \"true\"\n\
         activation = \"manual\"\nadapters = [{ name = \"Adapter\" }]\n",
    );
    for i in 1..=servers {
        let node = if i % 2 == 0 { "node2" } else { "node1" };
        d.push_str(&format!(
            "[[nodes.{node}.server-instances]]\ntemplate = \"Idle\"\nparameters = {{ index = \"{i}\" }}\n"
        ));
    }
    d
}

/// The process's user + system CPU time so far, all threads.
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start with the state, field 3.
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .context("a malformed /proc stat line")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .context("a short /proc stat line")?
            .parse::<u64>()
            .context("a malformed /proc stat field")
    };
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state.
    let total = ticks(11)? + ticks(12)?;
    let hz = rustix::param::clock_ticks_per_second();
    Ok(Duration::from_secs_f64(total as f64 / hz as f64))
}

async fn scrape(grid: &Grid, url: &str) -> anyhow::Result<String> {
    let resp = grid.http().get(url).send().await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "/metrics answered {}",
        resp.status()
    );
    let text = resp.text().await?;
    anyhow::ensure!(text.ends_with("# EOF\n"), "a scrape without # EOF");
    Ok(text)
}

/// Deploys the servers, waits until the registry counts them, and prints the figures.
pub async fn run(grid: &Grid, servers: usize, runs: usize, seconds: u64) -> anyhow::Result<()> {
    let pid = grid.registry_pid().context("the registry is not running")?;
    grid.deploy_source(&descriptor(servers)).await?;
    let url = format!("{}{}", grid.url(), grid_proto::paths::METRICS);
    // Settled once each node holds its half (its own scrape says so) and the registry counts
    // them all.
    let deadline = Instant::now() + Duration::from_secs(60);
    let nodes = grid.node_endpoints().await?;
    for (i, node) in nodes.iter().enumerate() {
        let half = servers / nodes.len() + usize::from(i < servers % nodes.len());
        let want = format!("gridnode_servers{{state=\"inactive\"}} {half}\n");
        let node_url = format!("{node}{}", grid_proto::paths::METRICS);
        while !scrape(grid, &node_url).await?.contains(&want) {
            anyhow::ensure!(
                Instant::now() < deadline,
                "{node} never held its {half} servers"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let want = format!("gridregistry_servers{{state=\"inactive\"}} {servers}\n");
    let text = scrape(grid, &url).await?;
    anyhow::ensure!(
        text.contains(&want),
        "the registry does not count {servers} inactive servers:\n{text}"
    );
    println!(
        "/metrics with {} servers: {} bytes, {} lines",
        servers + 4,
        text.len(),
        text.lines().count()
    );

    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = Instant::now();
        scrape(grid, &url).await?;
        samples.push(t0.elapsed());
    }
    println!(
        "/metrics scrape (one client):       {}",
        Summary::of(samples).line_ms()
    );

    let back_to_back = 1000;
    let before = cpu_time(pid)?;
    for _ in 0..back_to_back {
        scrape(grid, &url).await?;
    }
    let per_scrape = (cpu_time(pid)? - before) / back_to_back;
    println!(
        "registry CPU per scrape: {:.3} ms ({back_to_back} back to back): one a second = {:.3} % of a core",
        per_scrape.as_secs_f64() * 1000.0,
        per_scrape.as_secs_f64() * 100.0
    );

    let window = Duration::from_secs(seconds);
    let idle = {
        let before = cpu_time(pid)?;
        tokio::time::sleep(window).await;
        cpu_time(pid)? - before
    };
    let scraped = {
        let before = cpu_time(pid)?;
        let start = tokio::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for _ in 0..seconds {
            tick.tick().await;
            scrape(grid, &url).await?;
        }
        tokio::time::sleep_until(start + window).await;
        cpu_time(pid)? - before
    };
    let pct = |d: Duration| d.as_secs_f64() / window.as_secs_f64() * 100.0;
    // /proc counts CPU time in clock ticks: one tick over the window is the resolution.
    let tick = 100.0 / (rustix::param::clock_ticks_per_second() as f64 * window.as_secs_f64());
    println!(
        "registry CPU over {seconds} s: {:.2} % of a core at rest, {:.2} % with a scrape every second ({:+.2} %, to {tick:.2} %)",
        pct(idle),
        pct(scraped),
        pct(scraped) - pct(idle)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_descriptor_is_valid_and_has_every_server() {
        let d = grid_proto::descriptor::ApplicationDescriptor::parse(&descriptor(10)).unwrap();
        let servers = d.expand().unwrap().servers;
        assert_eq!(servers.len(), 10);
        assert_eq!(servers.iter().filter(|s| s.node == "node1").count(), 5);
        assert!(servers.iter().all(|s| s.adapters.len() == 1));
    }

    #[test]
    fn our_own_cpu_time_is_read() {
        let t = cpu_time(std::process::id()).unwrap();
        assert!(t < Duration::from_secs(3600), "{t:?}");
    }
}
