//! `adapter list | endpoints`: the locator's view.

use anyhow::Result;
use grid_proto::api::AdapterView;
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
            let reply = session.locate(id).await?;
            if out.json {
                out.json(&reply);
            } else {
                out.text(&views::endpoint_lines(&reply));
            }
            Ok(())
        }
    }
}
