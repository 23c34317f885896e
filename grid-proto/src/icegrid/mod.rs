//! IceGrid XML application descriptors, translated into our [`ApplicationDescriptor`].
//!
//! `gridadmin application add app.xml` (and `update`, `diff`) reads ZeroC IceGrid's XML:
//! `<icegrid><application>` with `<variable>`, `<replica-group>` and `<load-balancing>`,
//! `<server-template>` with `<parameter>`s, `<node>`s holding `<server-instance>`s and
//! `<server>`s (`exe`, `pwd`, `activation`, timeouts, `<option>`, `<env>`, `<adapter>`, `<log>`).
//! The translation keeps IceGrid's structure (templates stay templates, `${var}` references stay
//! references), so the one expansion of record, [`ApplicationDescriptor::expand`], gives the
//! servers, and the registry is sent the TOML text of the result ([`Translation::to_toml`]): it
//! parses one format, and `application describe` shows what actually runs.
//!
//! IceGrid defaults are kept where ours differ: a server without `activation` is `manual`, a
//! `<load-balancing>` without `n-replicas` gives one endpoint, and a replica group without
//! `<load-balancing>` is `random` over every replica. What has no equivalent here (properties,
//! IceBox services, allocatables, well-known objects, fixed endpoints, distributions, ...) is
//! one [`Warning`] each, with its line; what IceGrid itself rejects (unknown elements or
//! attributes, a missing `id`) is an [`XmlError`]. `docs/icegrid-xml.md` has the full table.

mod application;
mod reader;
mod server;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::descriptor::{ApplicationDescriptor, DescriptorError, ExpandedApplication};

/// Why an IceGrid XML descriptor was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct XmlError {
    /// The line of the offending element or attribute, when there is one.
    pub line: Option<u32>,
    /// What is wrong, naming the element and attribute.
    pub message: String,
}

impl XmlError {
    pub(crate) fn at(line: u32, message: impl Into<String>) -> Self {
        Self {
            line: Some(line),
            message: message.into(),
        }
    }
}

/// Something in the XML that has no equivalent in Spotifice Grid and was left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The line of the element or attribute.
    pub line: u32,
    /// What was left out, of which server or group, and why.
    pub message: String,
}

/// Where a descriptor field came from, so an expansion error points at the XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    line: u32,
    what: String,
}

/// Descriptor field paths (as [`DescriptorError::field`] names them) to their XML origin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Origins(BTreeMap<String, Origin>);

impl Origins {
    pub(crate) fn add(&mut self, field: impl Into<String>, line: u32, what: impl Into<String>) {
        self.0.entry(field.into()).or_insert(Origin {
            line,
            what: what.into(),
        });
    }

    /// The origin of the longest recorded field that `field` is, or is inside of.
    fn find(&self, field: &str) -> Option<&Origin> {
        self.0
            .iter()
            .filter(|(k, _)| {
                field.strip_prefix(k.as_str()).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')
                })
            })
            .max_by_key(|(k, _)| k.len())
            .map(|(_, o)| o)
    }
}

/// An IceGrid XML descriptor, translated.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// The descriptor, as if written in TOML.
    pub descriptor: ApplicationDescriptor,
    /// What was left out, in document order.
    pub warnings: Vec<Warning>,
    origins: Origins,
}

/// IceGrid's own variables that Spotifice Grid does not define (it has `application`, `node`,
/// `server`), so that a reference to one gets a precise error.
const ICEGRID_ONLY_VARIABLES: &[&str] = &[
    "node.os",
    "node.hostname",
    "node.release",
    "node.version",
    "node.machine",
    "node.datadir",
    "node.data",
    "server.data",
    "server.distrib",
    "application.distrib",
    "service",
    "service.data",
];

impl Translation {
    /// Validates and expands the descriptor; an error names the XML element and line.
    pub fn expand(&self) -> Result<ExpandedApplication, XmlError> {
        self.descriptor.expand().map_err(|e| self.locate(&e))
    }

    fn locate(&self, e: &DescriptorError) -> XmlError {
        let mut reason = e.reason.clone();
        if let Some(name) = ICEGRID_ONLY_VARIABLES
            .iter()
            .find(|v| reason == format!("undefined variable '${{{v}}}'"))
        {
            reason.push_str(&format!(
                " (IceGrid defines ${{{name}}}; Spotifice Grid has only ${{application}}, \
                 ${{node}} and ${{server}})"
            ));
        }
        match self.origins.find(&e.field) {
            Some(o) => XmlError::at(o.line, format!("{}: {reason}", o.what)),
            None => XmlError {
                line: None,
                message: format!("{}: {reason}", e.field),
            },
        }
    }

    /// The TOML text of the descriptor, what the registry is sent and stores; the first line
    /// says which file it was translated from.
    pub fn to_toml(&self, from: &str) -> Result<String, XmlError> {
        let body = toml::to_string(&self.descriptor).map_err(|e| XmlError {
            line: None,
            message: format!("cannot write the translated descriptor as TOML: {e}"),
        })?;
        let from = from.replace(['\n', '\r'], " ");
        Ok(format!(
            "# Translated by gridadmin from the IceGrid XML descriptor {from}.\n{body}"
        ))
    }
}

/// True when `source` (read from `path`) is IceGrid XML rather than TOML or JSON: a `.xml`
/// name, or text that starts with `<` (`<?xml`, `<icegrid>`, a comment), which neither TOML
/// nor JSON can.
pub fn is_xml(path: &str, source: &str) -> bool {
    let named = std::path::Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xml"));
    named
        || source
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('<')
}

/// Translates an IceGrid XML descriptor. The result is not validated yet: call
/// [`Translation::expand`].
pub fn translate(source: &str) -> Result<Translation, XmlError> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(source, options).map_err(|e| {
        // An unclosed document is found at its end, where roxmltree gives no position.
        let line = match e {
            roxmltree::Error::UnclosedRootNode | roxmltree::Error::UnexpectedEndOfStream => {
                source.lines().count().max(1) as u32
            }
            _ => e.pos().row,
        };
        XmlError::at(line, format!("not well-formed XML: {e}"))
    })?;
    let mut ctx = reader::Ctx::default();
    let descriptor = application::translate(&mut ctx, doc.root_element())?;
    Ok(Translation {
        descriptor,
        warnings: ctx.warnings,
        origins: ctx.origins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_told_by_name_or_first_character() {
        assert!(is_xml("app.xml", ""));
        assert!(is_xml("APP.XML", "name = 1"));
        assert!(is_xml("app", "\u{feff}  <?xml version=\"1.0\"?><icegrid/>"));
        assert!(is_xml("app.txt", "\n<icegrid>"));
        assert!(is_xml("-", "<!-- a comment --><icegrid/>"));
        assert!(!is_xml("app.toml", "name = \"A\""));
        assert!(!is_xml("app.json", "{\"name\": \"A\"}"));
    }

    #[test]
    fn origins_match_whole_path_components() {
        let mut o = Origins::default();
        o.add("nodes.n1", 3, "node");
        o.add("nodes.n1.servers[0]", 4, "server");
        o.add("nodes.n1.servers[0].args[1]", 6, "option");
        assert_eq!(
            o.find("nodes.n1.servers[0].args[1]").map(|o| o.line),
            Some(6)
        );
        assert_eq!(
            o.find("nodes.n1.servers[0].args[10]").map(|o| o.line),
            Some(4)
        );
        assert_eq!(o.find("nodes.n1.servers[0].exe").map(|o| o.line), Some(4));
        assert_eq!(o.find("nodes.n1").map(|o| o.line), Some(3));
        assert_eq!(o.find("nodes.n10"), None);
    }
}
