//! `application list | describe | add | update | remove | diff`.
//!
//! Descriptor files are read and validated here first, so a bad file is reported with its field
//! and reason before the registry is contacted. An IceGrid XML file is translated here too
//! (`grid_proto::icegrid`): the registry is sent the TOML it translates to, and what has no
//! equivalent is one `warning: FILE:LINE: ...` line each on stderr (and `warnings` in `--json`).

use std::fmt;

use anyhow::{Result, anyhow};
use grid_proto::api::{ApplicationChanged, ApplicationDetail, ApplicationDiff, ApplicationSummary};
use grid_proto::descriptor::ApplicationDescriptor;
use grid_proto::icegrid::{self, XmlError};
use grid_proto::paths;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

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
            let send =
                async |_: &DescriptorFile, body| session.post(paths::APPLICATIONS, body).await;
            submit(file, out, send, |c: &ApplicationChanged| {
                views::changed_text("added", c)
            })
            .await
        }
        ApplicationCmd::Update { file } => {
            let send = async |file: &DescriptorFile, body| {
                let path = paths::fill(paths::APPLICATION, &[&file.descriptor.name]);
                session.put(&path, body).await
            };
            submit(file, out, send, |c: &ApplicationChanged| {
                views::changed_text("updated", c)
            })
            .await
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
            let send =
                async |_: &DescriptorFile, body| session.post(paths::APPLICATIONS_DIFF, body).await;
            submit(file, out, send, |d: &ApplicationDiff| views::diff_text(d)).await
        }
    }
}

/// Reads and checks a descriptor file, prints its warnings, sends its source with `send` and
/// prints the reply (the warnings added to it in JSON mode).
async fn submit<T: DeserializeOwned>(
    file: &str,
    out: &Output,
    send: impl AsyncFnOnce(&DescriptorFile, Value) -> Result<Value>,
    human: impl FnOnce(&T) -> String,
) -> Result<()> {
    let file = read_descriptor(file)?;
    file.print_warnings(out);
    let reply = send(&file, json!({ "source": file.source })).await?;
    emit(out, file.with_warnings(out, reply), human)
}

/// A descriptor file, read and validated as the registry will.
#[derive(Debug)]
pub struct DescriptorFile {
    /// What the registry is sent: the file's text, or the TOML an IceGrid XML file translates to.
    pub source: String,
    /// The descriptor.
    pub descriptor: ApplicationDescriptor,
    /// What an IceGrid XML file holds that has no equivalent, in file order.
    pub warnings: Vec<FileWarning>,
}

/// One element or attribute of an IceGrid XML file that was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileWarning {
    /// The file, as given.
    pub file: String,
    /// Its line.
    pub line: u32,
    /// What was left out, and why.
    pub message: String,
}

impl fmt::Display for FileWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl DescriptorFile {
    /// One `warning: FILE:LINE: ...` line on stderr for each warning.
    fn print_warnings(&self, out: &Output) {
        for w in &self.warnings {
            out.warning(&w.to_string());
        }
    }

    /// The registry's reply, with the warnings added to it in JSON mode.
    fn with_warnings(&self, out: &Output, mut reply: Value) -> Value {
        if let (true, false, Value::Object(map)) = (out.json, self.warnings.is_empty(), &mut reply)
        {
            map.insert("warnings".into(), json!(self.warnings));
        }
        reply
    }
}

/// Reads a descriptor file (TOML, JSON or IceGrid XML) and validates it as the registry will.
pub fn read_descriptor(file: &str) -> Result<DescriptorFile> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow!("cannot read {file}: {}", io_reason(&e)))?;
    if icegrid::is_xml(file, &text) {
        return read_icegrid_xml(file, &text);
    }
    let descriptor = ApplicationDescriptor::parse(&text)
        .and_then(|d| d.expand().map(|_| d))
        .map_err(|e| anyhow!("invalid descriptor {file}: {e}"))?;
    Ok(DescriptorFile {
        source: text,
        descriptor,
        warnings: Vec::new(),
    })
}

fn read_icegrid_xml(file: &str, text: &str) -> Result<DescriptorFile> {
    let invalid = |e: XmlError| match e.line {
        Some(line) => anyhow!("invalid descriptor {file}:{line}: {}", e.message),
        None => anyhow!("invalid descriptor {file}: {}", e.message),
    };
    let translation = icegrid::translate(text).map_err(invalid)?;
    translation.expand().map_err(invalid)?;
    let source = translation.to_toml(file).map_err(invalid)?;
    let warnings = translation
        .warnings
        .iter()
        .map(|w| FileWarning {
            file: file.to_owned(),
            line: w.line,
            message: w.message.clone(),
        })
        .collect();
    Ok(DescriptorFile {
        source,
        descriptor: translation.descriptor,
        warnings,
    })
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

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn icegrid_xml_is_sent_as_the_toml_it_translates_to() {
        let dir = tempfile::tempdir().unwrap();
        let xml = "<icegrid>\n<application name=\"A\">\n<node name=\"n\">\n\
                   <server id=\"S\" exe=\"/bin/true\" user=\"nobody\"/>\n\
                   </node>\n</application>\n</icegrid>\n";
        // Told by the extension, or by the content whatever the name.
        for name in ["app.xml", "app.descriptor"] {
            let path = write(&dir, name, xml);
            let file = read_descriptor(&path).unwrap();
            assert_eq!(file.descriptor.name, "A");
            assert!(
                file.source.starts_with(&format!(
                    "# Translated by gridadmin from the IceGrid XML descriptor {path}.\n"
                )),
                "{}",
                file.source
            );
            assert_eq!(
                ApplicationDescriptor::parse(&file.source).unwrap(),
                file.descriptor
            );
            assert_eq!(
                file.warnings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
                [format!(
                    "{path}:4: attribute user=\"nobody\" of server S has no equivalent \
                     (servers run as their node's user); ignored"
                )]
            );
        }
    }

    #[test]
    fn bad_icegrid_xml_names_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "bad.xml",
            "<icegrid>\n<application name=\"A\">\n<node name=\"n\">\n\
             <server id=\"S\" exe=\"${nope}\"/>\n</node>\n</application>\n</icegrid>\n",
        );
        assert_eq!(
            read_descriptor(&path).unwrap_err().to_string(),
            format!(
                "invalid descriptor {path}:4: attribute exe of server S: undefined variable \
                 '${{nope}}'"
            )
        );
        let path = write(&dir, "broken.xml", "<icegrid>\n<application name=\"A\">\n");
        let err = read_descriptor(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("invalid descriptor {path}:2: not well-formed XML: the root node was opened but never closed")),
            "{err}"
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
