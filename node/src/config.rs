//! The node's resolved configuration: flags checked, paths made absolute, the secret read.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::cli::{Cli, OnStop};
use crate::supervisor::policy::Backoff;

/// Everything `run` needs besides the listener.
#[derive(Clone)]
pub struct Config {
    /// Node name.
    pub name: String,
    /// Registry base URL.
    pub registry: String,
    /// Data directory (absolute).
    pub data_dir: PathBuf,
    /// The address servers bind and advertise.
    pub address: IpAddr,
    /// Cluster secret.
    pub secret: String,
    /// Working directory (absolute).
    pub work_dir: PathBuf,
    /// Where to write the bound address.
    pub addr_file: Option<PathBuf>,
    /// Restart backoff.
    pub backoff: Backoff,
    /// Log rotation threshold.
    pub log_max_bytes: u64,
    /// Rotated files kept.
    pub log_keep: u32,
    /// What a stop signal does to the servers.
    pub on_stop: OnStop,
    /// The bounds on the API's clients.
    pub limits: grid_proto::serve::Limits,
    /// The grid CA's certificate file, when the registry speaks TLS.
    pub ca: Option<PathBuf>,
}

// The secret must never reach a log line, so Debug is written by hand.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("registry", &self.registry)
            .field("data_dir", &self.data_dir)
            .field("address", &self.address)
            .field("work_dir", &self.work_dir)
            .field("addr_file", &self.addr_file)
            .field("backoff", &self.backoff)
            .field("log_max_bytes", &self.log_max_bytes)
            .field("log_keep", &self.log_keep)
            .field("on_stop", &self.on_stop)
            .field("limits", &self.limits)
            .field("ca", &self.ca)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Checks the flags and reads the secret file.
    pub fn from_cli(cli: &Cli) -> anyhow::Result<Self> {
        if cli.name.is_empty() || cli.name.contains('/') {
            bail!("'{}' is not a valid node name", cli.name);
        }
        let secret = match (&cli.secret_file, &cli.secret) {
            (Some(path), _) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the secret file {}", path.display()))?
                .trim()
                .to_owned(),
            (None, Some(s)) => s.trim().to_owned(),
            (None, None) => {
                bail!(
                    "the cluster secret is missing: pass --secret-file PATH or set GRID_CLUSTER_SECRET"
                )
            }
        };
        if secret.is_empty() {
            bail!("the cluster secret is empty");
        }
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        let work_dir = absolute(&cwd, cli.work_dir.as_deref().unwrap_or(Path::new(".")));
        let data_dir = match &cli.data {
            Some(d) => absolute(&cwd, d),
            None => cwd.join(format!("{}_data", cli.name)),
        };
        let registry = cli.registry.trim_end_matches('/').to_owned();
        let ca = cli.ca.as_ref().map(|p| absolute(&cwd, p));
        if registry.starts_with("https://") && ca.is_none() {
            bail!(
                "an https:// registry needs --ca FILE (or GRID_CA_FILE): the registry's data/ca.pem"
            );
        }
        if cli.backoff_base_ms == 0 || cli.backoff_max_ms < cli.backoff_base_ms {
            bail!("--backoff-base-ms must be > 0 and not above --backoff-max-ms");
        }
        Ok(Self {
            name: cli.name.clone(),
            registry,
            data_dir,
            address: cli.address,
            secret,
            work_dir,
            addr_file: cli.addr_file.as_ref().map(|p| absolute(&cwd, p)),
            backoff: Backoff {
                base: Duration::from_millis(cli.backoff_base_ms),
                max: Duration::from_millis(cli.backoff_max_ms),
                reset_after: Duration::from_millis(cli.backoff_reset_ms),
            },
            log_max_bytes: cli.log_max_bytes.max(1),
            log_keep: cli.log_keep,
            on_stop: cli.on_stop,
            // The API's stop comes after the servers' (which have their own bound).
            limits: cli.limits.limits(std::time::Duration::from_secs(2)),
            ca,
        })
    }
}

fn absolute(cwd: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    }
}
