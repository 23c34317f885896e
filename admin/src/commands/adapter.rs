//! `adapter list | endpoints`: the locator's view.

use anyhow::Result;
use grid_proto::api::{AdapterView, LocateReply};
use grid_proto::paths;

use super::emit;
use crate::cli::AdapterCmd;
use crate::output::{Output, views};
use crate::session::Session;

/// Runs an `adapter` command.
pub async fn run(cmd: &AdapterCmd, session: &mut Session, out: &Output) -> Result<()> {
    match cmd {
        AdapterCmd::List => {
            let v = session.get(paths::ADAPTERS).await?;
            emit(out, v, |a: &Vec<AdapterView>| views::adapter_table(a))
        }
        AdapterCmd::Endpoints { id } => {
            let v = session.get(&paths::fill(paths::LOCATE, &[id])).await?;
            emit(out, v, |r: &LocateReply| views::endpoint_lines(r))
        }
    }
}
