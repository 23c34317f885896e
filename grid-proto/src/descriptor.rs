//! The application descriptor, modelled on IceGrid's XML descriptors, written in TOML (JSON accepted).
//!
//! ```toml
//! name = "Spotifice"
//! [variables]
//! library = "media"
//! [replica-groups.MediaServerGroup]
//! load-balancing = "round-robin"
//! [templates.MediaServer]
//! parameters = ["index"]
//! [templates.MediaServer.server]
//! id = "MediaServer-${index}"
//! exe = "media-server"
//! args = ["--library", "${library}"]
//! log = "mediaserver${index}.log"
//! adapters = [{ name = "Adapter", replica-group = "MediaServerGroup" }]
//! [[nodes.node1.server-instances]]
//! template = "MediaServer"
//! parameters = { index = "1" }
//! ```
//!
//! [`ApplicationDescriptor::expand`] validates everything and turns templates and instances into one
//! [`ServerDescriptor`] per server, the unit that nodes run and compare. Variables (and template
//! parameter values) may refer to other variables; `${application}`, `${node}` and `${server}`
//! are defined for every server; `$$` is a literal `$`. IceGrid XML descriptors translate into this
//! model (`crate::icegrid`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Why a descriptor was rejected: the field, and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct DescriptorError {
    /// Dotted path of the offending field (`nodes.node1.server-instances[0].template`).
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl DescriptorError {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// How a server is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// Started at once, restarted whenever it exits unasked.
    #[default]
    Always,
    /// Started when a client locates one of its adapters.
    OnDemand,
    /// Started only by an admin.
    Manual,
}

impl Activation {
    /// The name used in descriptors and listings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::OnDemand => "on-demand",
            Self::Manual => "manual",
        }
    }
}

/// How a replica group orders its live endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancing {
    /// A random order each time.
    Random,
    /// Rotated by one on every locate.
    #[default]
    RoundRobin,
    /// Descriptor order (the first live one first).
    Ordered,
    /// Least-loaded node first (load average per CPU).
    Adaptive,
}

/// A replica group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ReplicaGroup {
    /// Ordering policy.
    #[serde(default)]
    pub load_balancing: LoadBalancing,
    /// At most this many endpoints in a locate answer (0: all).
    #[serde(default)]
    pub n_replicas: usize,
}

/// An adapter of a server, before expansion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AdapterSpec {
    /// Adapter name within the server (`Adapter`).
    pub name: String,
    /// Adapter id; defaults to `${server}.${name}`.
    #[serde(default)]
    pub id: Option<String>,
    /// Replica group it joins.
    #[serde(default)]
    pub replica_group: Option<String>,
}

// Empty collections are left out when a descriptor is written (gridadmin writes the TOML of an
// IceGrid XML file), as a person writing it would.
/// A server, before expansion (in a template or placed directly on a node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerSpec {
    /// Server id, unique in the grid.
    pub id: String,
    /// Executable: a path, or a name looked up beside the node's binary and then in `PATH`.
    pub exe: String,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Extra environment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Working directory (default: the node's working directory).
    #[serde(default)]
    pub pwd: Option<String>,
    /// Activation mode.
    #[serde(default)]
    pub activation: Activation,
    /// Seconds a server has to report ready before it counts as failed to start.
    #[serde(default)]
    pub activation_timeout: Option<f64>,
    /// Seconds between SIGTERM and SIGKILL on stop.
    #[serde(default)]
    pub deactivation_timeout: Option<f64>,
    /// Log file for stdout and stderr, relative to the grid's working directory.
    #[serde(default)]
    pub log: Option<String>,
    /// Adapters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adapters: Vec<AdapterSpec>,
}

/// A server template with parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerTemplate {
    /// Parameter names an instance must (or, with a default, may) give.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<String>,
    /// Parameter defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub defaults: BTreeMap<String, String>,
    /// The server, with `${param}` references.
    pub server: ServerSpec,
}

/// An instance of a template on a node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerInstance {
    /// Template name.
    pub template: String,
    /// Parameter values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, String>,
}

/// What an application places on one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NodeSpec {
    /// Variables visible to this node's servers (override the application's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// Template instances.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_instances: Vec<ServerInstance>,
    /// Servers written out in full.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerSpec>,
}

/// An application descriptor as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ApplicationDescriptor {
    /// Application name.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Variables visible to every server.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub variables: BTreeMap<String, String>,
    /// Replica groups by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replica_groups: BTreeMap<String, ReplicaGroup>,
    /// Server templates by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<String, ServerTemplate>,
    /// Placement, by node name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nodes: BTreeMap<String, NodeSpec>,
}

/// An expanded adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterDescriptor {
    /// Name within the server.
    pub name: String,
    /// Grid-wide id.
    pub id: String,
    /// Replica group, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_group: Option<String>,
}

/// A fully expanded server: what a node runs. Two equal descriptors mean "no restart needed".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerDescriptor {
    /// Server id.
    pub id: String,
    /// Application it belongs to.
    pub application: String,
    /// Node it runs on.
    pub node: String,
    /// Executable.
    pub exe: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Extra environment.
    pub env: BTreeMap<String, String>,
    /// Working directory, if not the node's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pwd: Option<String>,
    /// Activation mode.
    pub activation: Activation,
    /// Milliseconds to report ready.
    pub activation_timeout_ms: u64,
    /// Milliseconds between SIGTERM and SIGKILL.
    pub deactivation_timeout_ms: u64,
    /// Log file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Adapters.
    pub adapters: Vec<AdapterDescriptor>,
}

/// Default seconds a server has to report ready.
pub const DEFAULT_ACTIVATION_TIMEOUT_S: f64 = 10.0;
/// Default seconds between SIGTERM and SIGKILL.
pub const DEFAULT_DEACTIVATION_TIMEOUT_S: f64 = 5.0;

/// An application after validation: the descriptor plus its servers and replica groups.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandedApplication {
    /// The descriptor.
    pub descriptor: ApplicationDescriptor,
    /// One entry per server, in node then declaration order.
    pub servers: Vec<ServerDescriptor>,
}

impl ApplicationDescriptor {
    /// Parses TOML, or JSON when the text starts with `{`.
    pub fn parse(source: &str) -> Result<Self, DescriptorError> {
        if source.trim_start().starts_with('{') {
            serde_json::from_str(source).map_err(|e| {
                DescriptorError::new(
                    format!("descriptor (JSON, line {} column {})", e.line(), e.column()),
                    e.to_string(),
                )
            })
        } else {
            toml::from_str(source).map_err(|e| {
                let place = e
                    .span()
                    .map(|s| {
                        let line = source[..s.start.min(source.len())].matches('\n').count() + 1;
                        format!("descriptor (TOML, line {line})")
                    })
                    .unwrap_or_else(|| "descriptor (TOML)".into());
                DescriptorError::new(place, e.message().trim().to_owned())
            })
        }
    }

    /// Validates the descriptor and expands every template instance.
    pub fn expand(&self) -> Result<ExpandedApplication, DescriptorError> {
        check_name("name", &self.name)?;
        for id in self.replica_groups.keys() {
            check_name(&format!("replica-groups.{id}"), id)?;
        }
        for (name, template) in &self.templates {
            let field = format!("templates.{name}");
            check_name(&field, name)?;
            let mut seen = BTreeSet::new();
            for p in &template.parameters {
                if !seen.insert(p) {
                    return Err(DescriptorError::new(
                        format!("{field}.parameters"),
                        format!("parameter '{p}' is declared twice"),
                    ));
                }
            }
            for d in template.defaults.keys() {
                if !template.parameters.contains(d) {
                    return Err(DescriptorError::new(
                        format!("{field}.defaults.{d}"),
                        format!("'{d}' is not one of the template's parameters"),
                    ));
                }
            }
        }
        let mut servers = Vec::new();
        for (node, spec) in &self.nodes {
            check_name(&format!("nodes.{node}"), node)?;
            let mut raw = self.variables.clone();
            raw.extend(spec.variables.clone());
            raw.insert("application".into(), self.name.clone());
            raw.insert("node".into(), node.clone());
            let vars = resolve_variables(&raw, |name| {
                if spec.variables.contains_key(name) {
                    format!("nodes.{node}.variables.{name}")
                } else {
                    format!("variables.{name}")
                }
            })?;
            for (i, inst) in spec.server_instances.iter().enumerate() {
                let field = format!("nodes.{node}.server-instances[{i}]");
                let template = self.templates.get(&inst.template).ok_or_else(|| {
                    DescriptorError::new(
                        format!("{field}.template"),
                        format!("unknown template '{}'", inst.template),
                    )
                })?;
                let mut local = vars.clone();
                for p in inst.parameters.keys() {
                    if !template.parameters.contains(p) {
                        return Err(DescriptorError::new(
                            format!("{field}.parameters.{p}"),
                            format!("template '{}' has no parameter '{p}'", inst.template),
                        ));
                    }
                }
                for p in &template.parameters {
                    let value = inst
                        .parameters
                        .get(p)
                        .or_else(|| template.defaults.get(p))
                        .ok_or_else(|| {
                            DescriptorError::new(
                                format!("{field}.parameters.{p}"),
                                format!("template '{}' needs parameter '{p}'", inst.template),
                            )
                        })?;
                    // Parameter values see the node's variables, not each other (as in IceGrid).
                    let value = substitute(value, &vars).map_err(|reason| {
                        DescriptorError::new(format!("{field}.parameters.{p}"), reason)
                    })?;
                    local.insert(p.clone(), value);
                }
                servers.push(self.expand_server(&template.server, node, &local, &field)?);
            }
            for (i, server) in spec.servers.iter().enumerate() {
                let field = format!("nodes.{node}.servers[{i}]");
                servers.push(self.expand_server(server, node, &vars, &field)?);
            }
        }
        let mut ids = BTreeSet::new();
        let mut adapter_ids = BTreeSet::new();
        for s in &servers {
            if !ids.insert(s.id.clone()) {
                return Err(DescriptorError::new(
                    format!("nodes.{}", s.node),
                    format!("server id '{}' is used twice", s.id),
                ));
            }
            for a in &s.adapters {
                if !adapter_ids.insert(a.id.clone()) {
                    return Err(DescriptorError::new(
                        format!("servers.{}.adapters", s.id),
                        format!("adapter id '{}' is used twice", a.id),
                    ));
                }
                if self.replica_groups.contains_key(&a.id) {
                    return Err(DescriptorError::new(
                        format!("servers.{}.adapters", s.id),
                        format!("adapter id '{}' is also a replica group id", a.id),
                    ));
                }
            }
        }
        Ok(ExpandedApplication {
            descriptor: self.clone(),
            servers,
        })
    }

    fn expand_server(
        &self,
        spec: &ServerSpec,
        node: &str,
        vars: &BTreeMap<String, String>,
        field: &str,
    ) -> Result<ServerDescriptor, DescriptorError> {
        let sub = |name: &str, text: &str, vars: &BTreeMap<String, String>| {
            substitute(text, vars)
                .map_err(|reason| DescriptorError::new(format!("{field}.{name}"), reason))
        };
        let id = sub("id", &spec.id, vars)?;
        check_name(&format!("{field}.id"), &id)?;
        let mut vars = vars.clone();
        vars.insert("server".into(), id.clone());
        let exe = sub("exe", &spec.exe, &vars)?;
        if exe.trim().is_empty() {
            return Err(DescriptorError::new(
                format!("{field}.exe"),
                "must not be empty",
            ));
        }
        let args = spec
            .args
            .iter()
            .enumerate()
            .map(|(i, a)| sub(&format!("args[{i}]"), a, &vars))
            .collect::<Result<Vec<_>, _>>()?;
        let mut env = BTreeMap::new();
        for (k, v) in &spec.env {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(DescriptorError::new(
                    format!("{field}.env"),
                    format!("'{k}' is not a valid variable name"),
                ));
            }
            env.insert(k.clone(), sub(&format!("env.{k}"), v, &vars)?);
        }
        let pwd = spec
            .pwd
            .as_deref()
            .map(|p| sub("pwd", p, &vars))
            .transpose()?;
        let log = spec
            .log
            .as_deref()
            .map(|l| sub("log", l, &vars))
            .transpose()?;
        if let Some(l) = log
            .as_ref()
            .filter(|l| l.is_empty() || l.starts_with('/') || l.split('/').any(|c| c == ".."))
        {
            return Err(DescriptorError::new(
                format!("{field}.log"),
                format!("'{l}' is not a valid log file name (relative, no '..')"),
            ));
        }
        let activation_timeout_ms = seconds(
            &format!("{field}.activation-timeout"),
            spec.activation_timeout
                .unwrap_or(DEFAULT_ACTIVATION_TIMEOUT_S),
        )?;
        let deactivation_timeout_ms = seconds(
            &format!("{field}.deactivation-timeout"),
            spec.deactivation_timeout
                .unwrap_or(DEFAULT_DEACTIVATION_TIMEOUT_S),
        )?;
        let mut adapters = Vec::new();
        let mut names = BTreeSet::new();
        for (i, a) in spec.adapters.iter().enumerate() {
            let afield = format!("adapters[{i}]");
            let name = sub(&format!("{afield}.name"), &a.name, &vars)?;
            check_name(&format!("{field}.{afield}.name"), &name)?;
            if !names.insert(name.clone()) {
                return Err(DescriptorError::new(
                    format!("{field}.{afield}.name"),
                    format!("adapter '{name}' is declared twice"),
                ));
            }
            let id = match &a.id {
                Some(id) => sub(&format!("{afield}.id"), id, &vars)?,
                None => format!("{id}.{name}"),
            };
            check_name(&format!("{field}.{afield}.id"), &id)?;
            let replica_group = a
                .replica_group
                .as_deref()
                .map(|g| sub(&format!("{afield}.replica-group"), g, &vars))
                .transpose()?;
            if let Some(g) = replica_group
                .as_ref()
                .filter(|g| !self.replica_groups.contains_key(*g))
            {
                return Err(DescriptorError::new(
                    format!("{field}.{afield}.replica-group"),
                    format!("unknown replica group '{g}'"),
                ));
            }
            adapters.push(AdapterDescriptor {
                name,
                id,
                replica_group,
            });
        }
        Ok(ServerDescriptor {
            id,
            application: self.name.clone(),
            node: node.to_owned(),
            exe,
            args,
            env,
            pwd,
            activation: spec.activation,
            activation_timeout_ms,
            deactivation_timeout_ms,
            log,
            adapters,
        })
    }
}

fn seconds(field: &str, s: f64) -> Result<u64, DescriptorError> {
    if !(s.is_finite() && s > 0.0 && s <= 3600.0) {
        return Err(DescriptorError::new(
            field,
            format!("{s} is not a number of seconds between 0 and 3600"),
        ));
    }
    Ok((s * 1000.0).round() as u64)
}

/// Names (applications, nodes, servers, adapters, groups) are what the CLI and URLs carry.
fn check_name(field: &str, name: &str) -> Result<(), DescriptorError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(DescriptorError::new(
            field,
            format!("'{name}' is not a valid name (letters, digits, '-', '_', '.'; at most 128)"),
        ))
    }
}

mod variables;
use variables::{resolve_variables, substitute};

#[cfg(test)]
mod tests;
