//! `application list | describe | add | update | remove | diff`.
//!
//! Descriptor files are read and validated here first, so a bad file is reported with its field
//! and reason before the registry is contacted.

use anyhow::{Result, anyhow};
use grid_proto::api::{ApplicationChanged, ApplicationDetail, ApplicationDiff, ApplicationSummary};
use grid_proto::descriptor::ApplicationDescriptor;
use grid_proto::paths;
use serde_json::json;

use super::emit;
use crate::cli::ApplicationCmd;
use crate::output::{Output, views};
use crate::session::Session;

/// Runs an `application` command.
pub async fn run(cmd: &ApplicationCmd, session: &mut Session, out: &Output) -> Result<()> {
    match cmd {
        ApplicationCmd::List { long } => {
            let v = session.get(paths::APPLICATIONS).await?;
            emit(out, v, |apps: &Vec<ApplicationSummary>| {
                if *long {
                    views::application_table(apps)
                } else {
                    views::application_names(apps)
                }
            })
        }
        ApplicationCmd::Describe { name } => {
            let v = session
                .get(&paths::fill(paths::APPLICATION, &[name]))
                .await?;
            emit(out, v, |app: &ApplicationDetail| {
                views::application_describe(app)
            })
        }
        ApplicationCmd::Add { file } => {
            let (source, _) = read_descriptor(file)?;
            let v = session
                .post(paths::APPLICATIONS, json!({ "source": source }))
                .await?;
            emit(out, v, |c: &ApplicationChanged| {
                views::changed_text("added", c)
            })
        }
        ApplicationCmd::Update { file } => {
            let (source, descriptor) = read_descriptor(file)?;
            let path = paths::fill(paths::APPLICATION, &[&descriptor.name]);
            let v = session.put(&path, json!({ "source": source })).await?;
            emit(out, v, |c: &ApplicationChanged| {
                views::changed_text("updated", c)
            })
        }
        ApplicationCmd::Remove { name } => {
            let v = session
                .delete(&paths::fill(paths::APPLICATION, &[name]))
                .await?;
            emit(out, v, |c: &ApplicationChanged| {
                views::changed_text("removed", c)
            })
        }
        ApplicationCmd::Diff { file } => {
            let (source, _) = read_descriptor(file)?;
            let v = session
                .post(paths::APPLICATIONS_DIFF, json!({ "source": source }))
                .await?;
            emit(out, v, |d: &ApplicationDiff| views::diff_text(d))
        }
    }
}

/// Reads a descriptor file and validates it as the registry will.
pub fn read_descriptor(file: &str) -> Result<(String, ApplicationDescriptor)> {
    let source = std::fs::read_to_string(file)
        .map_err(|e| anyhow!("cannot read {file}: {}", io_reason(&e)))?;
    let descriptor = ApplicationDescriptor::parse(&source)
        .and_then(|d| d.expand().map(|_| d))
        .map_err(|e| anyhow!("invalid descriptor {file}: {e}"))?;
    Ok((source, descriptor))
}

/// An I/O error in words, without Rust's ` (os error 2)` suffix.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file() {
        let err = read_descriptor("/nonexistent/app.toml").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read /nonexistent/app.toml: No such file or directory"
        );
    }

    #[test]
    fn bad_descriptor_names_field_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "name = \"Spotifice\"\nbogus = 1\n").unwrap();
        let err = read_descriptor(path.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid descriptor "), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }
}
