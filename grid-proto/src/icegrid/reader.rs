//! Reading the XML tree the way IceGrid does: every attribute read or reported (an unknown one
//! is an error), text only where a value is expected, and a line for every message.

use std::collections::BTreeSet;

use roxmltree::Node;

use super::{Origins, Warning, XmlError};

/// What a translation collects besides the descriptor.
#[derive(Debug, Default)]
pub(super) struct Ctx {
    pub(super) warnings: Vec<Warning>,
    pub(super) origins: Origins,
}

impl Ctx {
    /// Records one warning line.
    pub(super) fn warn(&mut self, line: u32, message: impl Into<String>) {
        self.warnings.push(Warning {
            line,
            message: message.into(),
        });
    }

    /// Warns that `thing` of `owner` has no equivalent, and why.
    pub(super) fn unsupported(&mut self, line: u32, thing: &str, owner: &str, why: &str) {
        self.warn(
            line,
            format!("{thing} of {owner} has no equivalent ({why}); ignored"),
        );
    }

    /// Warns about a well-known object (`<object>`, `<allocatable>`) in a replica group or an
    /// adapter: clients locate adapters and groups by id instead.
    pub(super) fn object(&mut self, el: El<'_, '_>, owner: &str) -> Result<(), XmlError> {
        let identity = el.attrs().required("identity")?;
        self.unsupported(
            el.line(),
            &format!("<{} identity=\"{identity}\">", el.name()),
            owner,
            if el.name() == "object" {
                "no well-known objects: clients locate adapters and replica groups by id"
            } else {
                "servers are not allocated to client sessions"
            },
        );
        Ok(())
    }

    /// Warns about a `<description>` below the application: it has no place in a descriptor.
    pub(super) fn description(&mut self, el: El<'_, '_>, owner: &str) {
        self.unsupported(
            el.line(),
            "<description>",
            owner,
            "only the application has one",
        );
    }

    /// Warns about a `<target>`: its contents are not deployed, as with icegridadmin given no
    /// targets.
    pub(super) fn target(&mut self, el: El<'_, '_>, owner: &str) -> Result<(), XmlError> {
        let mut a = el.attrs();
        let name = a.required("name")?;
        a.done()?;
        self.warn(
            el.line(),
            format!(
                "<target name=\"{name}\"> of {owner} is not deployed (no deployment targets \
                 are given, as to icegridadmin without targets); its contents are ignored"
            ),
        );
        Ok(())
    }
}

/// An element of the descriptor.
#[derive(Debug, Clone, Copy)]
pub(super) struct El<'a, 'i> {
    node: Node<'a, 'i>,
}

impl<'a, 'i> El<'a, 'i> {
    pub(super) fn new(node: Node<'a, 'i>) -> Self {
        Self { node }
    }

    /// The tag name.
    pub(super) fn name(&self) -> &'a str {
        self.node.tag_name().name()
    }

    /// The 1-based line of the start tag.
    pub(super) fn line(&self) -> u32 {
        self.line_at(self.node.range().start)
    }

    fn line_at(&self, pos: usize) -> u32 {
        self.node.document().text_pos_at(pos).row
    }

    /// `<name>`, for messages.
    pub(super) fn tag(&self) -> String {
        format!("<{}>", self.name())
    }

    /// The child elements; text between them (other than blanks) is an error, as in IceGrid.
    pub(super) fn children(&self) -> Result<Vec<El<'a, 'i>>, XmlError> {
        let mut out = Vec::new();
        for child in self.node.children() {
            if child.is_element() {
                out.push(El::new(child));
            } else if child.is_text() && !child.text().unwrap_or("").trim().is_empty() {
                return Err(XmlError::at(
                    self.line_at(child.range().start),
                    format!("{} takes no text, only elements", self.tag()),
                ));
            }
        }
        Ok(out)
    }

    /// Fails unless the element is empty (attributes only).
    pub(super) fn leaf(&self) -> Result<(), XmlError> {
        match self.children()?.first() {
            None => Ok(()),
            Some(child) => Err(XmlError::at(
                child.line(),
                format!(
                    "{} takes no child elements, not {}",
                    self.tag(),
                    child.tag()
                ),
            )),
        }
    }

    /// The text of a value element (`<option>`, `<env>`, `<description>`), which has no
    /// child elements.
    pub(super) fn text(&self) -> Result<String, XmlError> {
        let mut text = String::new();
        for child in self.node.children() {
            if child.is_element() {
                return Err(XmlError::at(
                    El::new(child).line(),
                    format!(
                        "{} takes text only, not <{}>",
                        self.tag(),
                        El::new(child).name()
                    ),
                ));
            }
            if child.is_text() {
                text.push_str(child.text().unwrap_or(""));
            }
        }
        Ok(text)
    }

    /// Its attributes, to be read one by one.
    pub(super) fn attrs(&self) -> Attrs<'a, 'i> {
        Attrs {
            el: *self,
            used: BTreeSet::new(),
        }
    }
}

/// The attributes of one element: each read, warned about, or an error at [`Attrs::done`].
pub(super) struct Attrs<'a, 'i> {
    el: El<'a, 'i>,
    used: BTreeSet<&'a str>,
}

impl<'a> Attrs<'a, '_> {
    /// An optional attribute.
    pub(super) fn get(&mut self, name: &'static str) -> Option<&'a str> {
        self.used.insert(name);
        self.el.node.attribute(name)
    }

    /// A required, non-empty attribute.
    pub(super) fn required(&mut self, name: &'static str) -> Result<&'a str, XmlError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            Some(_) => Err(XmlError::at(
                self.line(name),
                format!("attribute {name} of {} is empty", self.el.tag()),
            )),
            None => Err(XmlError::at(
                self.el.line(),
                format!("{} has no {name} attribute", self.el.tag()),
            )),
        }
    }

    /// `true` or `false`, or `default` when absent.
    pub(super) fn boolean(&mut self, name: &'static str, default: bool) -> Result<bool, XmlError> {
        match self.get(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(XmlError::at(
                self.line(name),
                format!(
                    "attribute {name}=\"{v}\" of {} is not 'true' or 'false'",
                    self.el.tag()
                ),
            )),
        }
    }

    /// The line of an attribute (of the element, when it is absent).
    pub(super) fn line(&self, name: &str) -> u32 {
        self.el
            .node
            .attribute_node(name)
            .map_or_else(|| self.el.line(), |a| self.el.line_at(a.range().start))
    }

    /// Reads `name` if present and warns that it has no equivalent.
    pub(super) fn unsupported(
        &mut self,
        ctx: &mut Ctx,
        name: &'static str,
        owner: &str,
        why: &str,
    ) {
        if let Some(v) = self.get(name) {
            let thing = format!("attribute {name}=\"{v}\"");
            ctx.unsupported(self.line(name), &thing, owner, why);
        }
    }

    /// Every attribute not read yet, with its line (a server-instance's parameters).
    pub(super) fn rest(&mut self) -> Vec<(&'a str, &'a str, u32)> {
        let node = self.el.node;
        let mut out = Vec::new();
        for a in node.attributes() {
            if self.used.insert(a.name()) {
                out.push((a.name(), a.value(), self.el.line_at(a.range().start)));
            }
        }
        out
    }

    /// Fails on any attribute that was not read, as IceGrid does.
    pub(super) fn done(self) -> Result<(), XmlError> {
        let node = self.el.node;
        match node.attributes().find(|a| !self.used.contains(a.name())) {
            None => Ok(()),
            Some(a) => Err(XmlError::at(
                self.el.line_at(a.range().start),
                format!("unknown attribute {} of {}", a.name(), self.el.tag()),
            )),
        }
    }
}

/// The error for an element IceGrid does not allow where it is.
pub(super) fn misplaced(el: El<'_, '_>, parent: &str) -> XmlError {
    XmlError::at(
        el.line(),
        format!("{} is not an element IceGrid allows in {parent}", el.tag()),
    )
}
