//! `<icegrid>`, `<application>` and what it holds besides servers: variables, replica groups,
//! server templates, nodes and their server instances.

use std::collections::BTreeMap;

use super::XmlError;
use super::reader::{Ctx, El, misplaced};
use super::server::{self, Relative};
use crate::descriptor::{
    ApplicationDescriptor, LoadBalancing, NodeSpec, ReplicaGroup, ServerInstance, ServerTemplate,
};

/// A server instance waiting for its template's origins (templates may come after nodes).
struct Pending {
    field: String,
    template: String,
    line: u32,
}

/// Translates the document's root element, which must be `<icegrid>`.
pub(super) fn translate(
    ctx: &mut Ctx,
    root: roxmltree::Node<'_, '_>,
) -> Result<ApplicationDescriptor, XmlError> {
    let root = El::new(root);
    if root.name() != "icegrid" {
        return Err(XmlError::at(
            root.line(),
            format!(
                "the root element is {}; an IceGrid descriptor's is <icegrid>",
                root.tag()
            ),
        ));
    }
    root.attrs().done()?;
    let mut app = None;
    for child in root.children()? {
        match child.name() {
            "application" if app.is_some() => {
                return Err(XmlError::at(
                    child.line(),
                    "a descriptor holds one <application>; this is a second one",
                ));
            }
            "application" => app = Some(application(ctx, child)?),
            "include" => {
                return Err(XmlError::at(
                    child.line(),
                    "<include> is not supported: copy the included file's elements here",
                ));
            }
            "target" => ctx.target(child, "<icegrid>")?,
            _ => return Err(misplaced(child, "<icegrid>")),
        }
    }
    app.ok_or_else(|| XmlError::at(root.line(), "<icegrid> holds no <application>"))
}

fn application(ctx: &mut Ctx, el: El<'_, '_>) -> Result<ApplicationDescriptor, XmlError> {
    let mut a = el.attrs();
    let name = a.required("name")?.to_owned();
    let owner = format!("application {name}");
    if a.boolean("import-default-templates", false)? {
        ctx.unsupported(
            a.line("import-default-templates"),
            "attribute import-default-templates=\"true\"",
            &owner,
            "the registry has no default templates",
        );
    }
    a.done()?;
    ctx.origins
        .add("name", el.line(), format!("<application name=\"{name}\">"));
    let mut app = ApplicationDescriptor {
        name,
        description: None,
        variables: BTreeMap::new(),
        replica_groups: BTreeMap::new(),
        templates: BTreeMap::new(),
        nodes: BTreeMap::new(),
    };
    let mut template_origins: BTreeMap<String, Relative> = BTreeMap::new();
    let mut pending = Vec::new();
    for child in el.children()? {
        match child.name() {
            "description" => {
                child.attrs().done()?;
                app.description = Some(child.text()?.trim().to_owned());
            }
            "variable" => variable(ctx, child, &mut app.variables, "variables", &owner)?,
            "replica-group" => replica_group(ctx, child, &mut app.replica_groups)?,
            "server-template" => {
                let (id, template, origins) = server_template(ctx, child)?;
                if app.templates.insert(id.clone(), template).is_some() {
                    return Err(XmlError::at(
                        child.line(),
                        format!("server-template '{id}' is defined twice"),
                    ));
                }
                template_origins.insert(id, origins);
            }
            "node" => node(ctx, child, &mut app.nodes, &mut pending)?,
            "service-template" => ctx.unsupported(
                child.line(),
                "<service-template>",
                &owner,
                "IceBox services are not run",
            ),
            "properties" => ctx.unsupported(
                child.line(),
                "<properties>",
                &owner,
                "servers are configured by options and env",
            ),
            "distrib" => ctx.unsupported(
                child.line(),
                "<distrib>",
                &owner,
                "no IcePatch2 distribution",
            ),
            "target" => ctx.target(child, &owner)?,
            _ => return Err(misplaced(child, "<application>")),
        }
    }
    // An error in a template shows up on each instance: point it at the template's element.
    for p in pending {
        for (sub, origin) in template_origins.get(&p.template).into_iter().flatten() {
            ctx.origins.add(
                format!("{}{sub}", p.field),
                origin.line,
                format!("{} (instantiated at line {})", origin.what, p.line),
            );
        }
    }
    Ok(app)
}

fn variable(
    ctx: &mut Ctx,
    el: El<'_, '_>,
    vars: &mut BTreeMap<String, String>,
    field: &str,
    owner: &str,
) -> Result<(), XmlError> {
    let mut a = el.attrs();
    let name = a.required("name")?;
    let value = a.get("value").unwrap_or("");
    a.done()?;
    el.leaf()?;
    if vars.insert(name.to_owned(), value.to_owned()).is_some() {
        ctx.warn(
            el.line(),
            format!("variable {name} of {owner} is defined twice; the last value is used"),
        );
    }
    ctx.origins.add(
        format!("{field}.{name}"),
        el.line(),
        format!("<variable name=\"{name}\"> of {owner}"),
    );
    Ok(())
}

fn replica_group(
    ctx: &mut Ctx,
    el: El<'_, '_>,
    groups: &mut BTreeMap<String, ReplicaGroup>,
) -> Result<(), XmlError> {
    let mut a = el.attrs();
    let id = a.required("id")?;
    let owner = format!("replica-group {id}");
    a.unsupported(
        ctx,
        "proxy-options",
        &owner,
        "locate answers plain endpoints",
    );
    a.unsupported(
        ctx,
        "filter",
        &owner,
        "the registry has no replica group filters",
    );
    a.done()?;
    // IceGrid's policy for a group without <load-balancing>: random, every replica.
    let mut group = ReplicaGroup {
        load_balancing: LoadBalancing::Random,
        n_replicas: 0,
    };
    let mut balanced = false;
    for child in el.children()? {
        match child.name() {
            "load-balancing" if balanced => {
                return Err(XmlError::at(
                    child.line(),
                    format!("{owner} has a second <load-balancing>"),
                ));
            }
            "load-balancing" => {
                group = load_balancing(ctx, child, &owner)?;
                balanced = true;
            }
            "object" => ctx.object(child, &owner)?,
            "description" => ctx.description(child, &owner),
            "target" => ctx.target(child, &owner)?,
            _ => return Err(misplaced(child, "<replica-group>")),
        }
    }
    if groups.insert(id.to_owned(), group).is_some() {
        return Err(XmlError::at(
            el.line(),
            format!("replica-group '{id}' is defined twice"),
        ));
    }
    ctx.origins.add(
        format!("replica-groups.{id}"),
        el.line(),
        format!("<replica-group id=\"{id}\">"),
    );
    Ok(())
}

fn load_balancing(ctx: &mut Ctx, el: El<'_, '_>, owner: &str) -> Result<ReplicaGroup, XmlError> {
    let mut a = el.attrs();
    let kind = a.required("type")?;
    let load_balancing = match kind {
        "random" => LoadBalancing::Random,
        "ordered" => LoadBalancing::Ordered,
        "round-robin" => LoadBalancing::RoundRobin,
        "adaptive" => LoadBalancing::Adaptive,
        _ => {
            return Err(XmlError::at(
                a.line("type"),
                format!(
                    "<load-balancing type=\"{kind}\"> of {owner} is not random, ordered, \
                     round-robin or adaptive"
                ),
            ));
        }
    };
    // IceGrid's default is one replica per locate; 0 means all of them.
    let n = a.get("n-replicas").unwrap_or("1");
    let n_replicas = n.trim().parse::<usize>().map_err(|_| {
        XmlError::at(
            a.line("n-replicas"),
            format!(
                "n-replicas=\"{n}\" of {owner} is not a whole number of replicas (0: all of them)"
            ),
        )
    })?;
    if load_balancing == LoadBalancing::Adaptive {
        match a.get("load-sample") {
            None | Some("1") => {}
            Some(sample @ ("5" | "15")) => ctx.unsupported(
                a.line("load-sample"),
                &format!("attribute load-sample=\"{sample}\""),
                owner,
                "the adaptive policy orders nodes by their 1-minute load average",
            ),
            Some(sample) => {
                return Err(XmlError::at(
                    a.line("load-sample"),
                    format!("load-sample=\"{sample}\" of {owner} is not 1, 5 or 15"),
                ));
            }
        }
    }
    a.done()?;
    el.leaf()?;
    Ok(ReplicaGroup {
        load_balancing,
        n_replicas,
    })
}

fn server_template(
    ctx: &mut Ctx,
    el: El<'_, '_>,
) -> Result<(String, ServerTemplate, Relative), XmlError> {
    let mut a = el.attrs();
    let id = a.required("id")?.to_owned();
    a.done()?;
    let owner = format!("server-template {id}");
    ctx.origins.add(
        format!("templates.{id}"),
        el.line(),
        format!("<server-template id=\"{id}\">"),
    );
    let mut parameters: Vec<String> = Vec::new();
    let mut defaults = BTreeMap::new();
    let mut server = None;
    for child in el.children()? {
        match child.name() {
            "parameter" => {
                let mut a = child.attrs();
                let name = a.required("name")?.to_owned();
                let default = a.get("default");
                a.done()?;
                child.leaf()?;
                if parameters.contains(&name) {
                    return Err(XmlError::at(
                        child.line(),
                        format!("parameter '{name}' of {owner} is declared twice"),
                    ));
                }
                if let Some(d) = default {
                    defaults.insert(name.clone(), d.to_owned());
                }
                parameters.push(name);
            }
            "server" | "icebox" if server.is_some() => {
                return Err(XmlError::at(
                    child.line(),
                    format!("{owner} holds one server; this {} is a second", child.tag()),
                ));
            }
            "server" | "icebox" => server = Some(server::translate(ctx, child, Some(&id))?),
            "target" => ctx.target(child, &owner)?,
            _ => return Err(misplaced(child, "<server-template>")),
        }
    }
    let (server, origins) = server
        .ok_or_else(|| XmlError::at(el.line(), format!("{owner} has no <server> or <icebox>")))?;
    let template = ServerTemplate {
        parameters,
        defaults,
        server,
    };
    Ok((id, template, origins))
}

fn node(
    ctx: &mut Ctx,
    el: El<'_, '_>,
    nodes: &mut BTreeMap<String, NodeSpec>,
    pending: &mut Vec<Pending>,
) -> Result<(), XmlError> {
    let mut a = el.attrs();
    let name = a.required("name")?.to_owned();
    let owner = format!("node {name}");
    a.unsupported(
        ctx,
        "load-factor",
        &owner,
        "adaptive load balancing divides a node's load by its CPUs",
    );
    a.done()?;
    let field = format!("nodes.{name}");
    ctx.origins
        .add(&field, el.line(), format!("<node name=\"{name}\">"));
    // A node may be written in several <node> elements; IceGrid merges them.
    let spec = nodes.entry(name.clone()).or_default();
    for child in el.children()? {
        match child.name() {
            "variable" => variable(
                ctx,
                child,
                &mut spec.variables,
                &format!("{field}.variables"),
                &owner,
            )?,
            "server-instance" => {
                let mut a = child.attrs();
                let template = a.required("template")?.to_owned();
                let params = a.rest();
                a.done()?;
                let at = format!("{field}.server-instances[{}]", spec.server_instances.len());
                let what = format!("<server-instance template=\"{template}\"> on {owner}");
                ctx.origins.add(&at, child.line(), &what);
                let mut parameters = BTreeMap::new();
                for (p, value, line) in params {
                    ctx.origins.add(
                        format!("{at}.parameters.{p}"),
                        line,
                        format!("{p} of {what}"),
                    );
                    parameters.insert(p.to_owned(), value.to_owned());
                }
                for grandchild in child.children()? {
                    match grandchild.name() {
                        "properties" => ctx.unsupported(
                            grandchild.line(),
                            "<properties>",
                            &format!("server-instance of {template} on {owner}"),
                            "servers are configured by options and env",
                        ),
                        _ => return Err(misplaced(grandchild, "<server-instance>")),
                    }
                }
                pending.push(Pending {
                    field: at,
                    template: template.clone(),
                    line: child.line(),
                });
                spec.server_instances.push(ServerInstance {
                    template,
                    parameters,
                });
            }
            "server" | "icebox" => {
                let (server, origins) = server::translate(ctx, child, None)?;
                let at = format!("{field}.servers[{}]", spec.servers.len());
                for (sub, origin) in origins {
                    ctx.origins
                        .add(format!("{at}{sub}"), origin.line, origin.what);
                }
                spec.servers.push(server);
            }
            "properties" => ctx.unsupported(
                child.line(),
                "<properties>",
                &owner,
                "servers are configured by options and env",
            ),
            "description" => ctx.description(child, &owner),
            "target" => ctx.target(child, &owner)?,
            _ => return Err(misplaced(child, "<node>")),
        }
    }
    Ok(())
}
