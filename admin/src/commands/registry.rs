//! `registry show`.

use anyhow::Result;
use grid_proto::api::RegistryInfo;
use grid_proto::paths;

use super::emit;
use crate::cli::RegistryCmd;
use crate::output::{Output, views};
use crate::session::Session;

/// Runs a `registry` command.
pub async fn run(cmd: &RegistryCmd, session: &mut Session, out: &Output) -> Result<()> {
    match cmd {
        RegistryCmd::Show => {
            let v = session.get(paths::REGISTRY).await?;
            emit(out, v, |info: &RegistryInfo| views::registry_show(info))
        }
    }
}
