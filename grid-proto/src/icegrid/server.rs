//! `<server>` and `<icebox>` with their options, environment, log and adapters.

use std::collections::BTreeMap;

use super::reader::{Attrs, Ctx, El, misplaced};
use super::{Origin, XmlError};
use crate::descriptor::{Activation, AdapterSpec, ServerSpec};

/// Origins of a server's fields, relative to wherever the server lands (`.args[0]`, `.log`).
pub(super) type Relative = Vec<(String, Origin)>;

const CONFIGURED_BY_OPTIONS: &str = "servers are configured by options and env";

/// Translates a server, of a node or (`template`) of a server template.
pub(super) fn translate(
    ctx: &mut Ctx,
    el: El<'_, '_>,
    template: Option<&str>,
) -> Result<(ServerSpec, Relative), XmlError> {
    let icebox = el.name() == "icebox";
    let mut a = el.attrs();
    let id = a.required("id")?.to_owned();
    let owner = match template {
        Some(t) => format!("server-template {t}"),
        None => format!("server {id}"),
    };
    let mut rel: Relative = Vec::new();
    at(&mut rel, "", el.line(), format!("{} of {owner}", el.tag()));
    at(
        &mut rel,
        ".id",
        a.line("id"),
        format!("attribute id of {owner}"),
    );
    let exe = a.required("exe")?.to_owned();
    at(
        &mut rel,
        ".exe",
        a.line("exe"),
        format!("attribute exe of {owner}"),
    );
    let pwd = a.get("pwd").filter(|p| !p.is_empty()).map(str::to_owned);
    at(
        &mut rel,
        ".pwd",
        a.line("pwd"),
        format!("attribute pwd of {owner}"),
    );
    let activation = activation(ctx, &mut a, &owner)?;
    let activation_timeout = seconds(&mut a, "activation-timeout", &owner)?;
    at(
        &mut rel,
        ".activation-timeout",
        a.line("activation-timeout"),
        format!("attribute activation-timeout of {owner}"),
    );
    let deactivation_timeout = seconds(&mut a, "deactivation-timeout", &owner)?;
    at(
        &mut rel,
        ".deactivation-timeout",
        a.line("deactivation-timeout"),
        format!("attribute deactivation-timeout of {owner}"),
    );
    if a.boolean("allocatable", false)? {
        ctx.unsupported(
            a.line("allocatable"),
            "attribute allocatable=\"true\"",
            &owner,
            "servers are not allocated to client sessions",
        );
    }
    a.unsupported(ctx, "user", &owner, "servers run as their node's user");
    a.unsupported(ctx, "ice-version", &owner, "servers speak HTTP, not Ice");
    a.unsupported(
        ctx,
        "application-distrib",
        &owner,
        "no IcePatch2 distribution",
    );
    a.done()?;

    let mut args = Vec::new();
    let mut env = BTreeMap::new();
    let mut log = None;
    let mut adapters = Vec::new();
    for child in el.children()? {
        let line = child.line();
        match child.name() {
            "option" => {
                child.attrs().done()?;
                at(
                    &mut rel,
                    &format!(".args[{}]", args.len()),
                    line,
                    format!("<option> of {owner}"),
                );
                args.push(child.text()?);
            }
            "env" => {
                child.attrs().done()?;
                let text = child.text()?;
                let (name, value) = text.split_once('=').ok_or_else(|| {
                    XmlError::at(
                        line,
                        format!("<env>{text}</env> of {owner} is not NAME=VALUE"),
                    )
                })?;
                if env.insert(name.to_owned(), value.to_owned()).is_some() {
                    ctx.warn(
                        line,
                        format!("<env> {name} of {owner} is set twice; the last value is used"),
                    );
                }
                at(&mut rel, ".env", line, format!("<env> of {owner}"));
                at(
                    &mut rel,
                    &format!(".env.{name}"),
                    line,
                    format!("<env> {name} of {owner}"),
                );
            }
            "adapter" if icebox => {
                return Err(XmlError::at(
                    line,
                    format!(
                        "an <icebox> has no adapters of its own ({owner}): IceGrid puts them in its services"
                    ),
                ));
            }
            "adapter" => {
                let sub = format!(".adapters[{}]", adapters.len());
                let (adapter, origins) = adapter(ctx, child, &owner)?;
                for (s, o) in origins {
                    rel.push((format!("{sub}{s}"), o));
                }
                adapters.push(adapter);
            }
            "log" => {
                let mut la = child.attrs();
                let path = la.required("path")?.to_owned();
                let thing = format!("<log path=\"{path}\">");
                la.unsupported(
                    ctx,
                    "property",
                    &format!("{thing} of {owner}"),
                    "a server's stdout goes to its log file",
                );
                la.done()?;
                child.leaf()?;
                if log.is_some() {
                    ctx.unsupported(
                        line,
                        &format!("a second {thing}"),
                        &owner,
                        "a server has one log file here, the first one",
                    );
                } else {
                    at(&mut rel, ".log", line, format!("{thing} of {owner}"));
                    log = Some(path);
                }
            }
            "property" => {
                let name = child.attrs().required("name")?;
                ctx.unsupported(
                    line,
                    &format!("<property name=\"{name}\">"),
                    &owner,
                    CONFIGURED_BY_OPTIONS,
                );
            }
            "properties" => ctx.unsupported(line, "<properties>", &owner, CONFIGURED_BY_OPTIONS),
            "description" => ctx.description(child, &owner),
            "dbenv" => ctx.unsupported(line, "<dbenv>", &owner, "no Freeze database environments"),
            "distrib" => ctx.unsupported(line, "<distrib>", &owner, "no IcePatch2 distribution"),
            "service" | "service-instance" if icebox => {
                let mut sa = child.attrs();
                let named = match child.name() {
                    "service" => format!("<service name=\"{}\">", sa.required("name")?),
                    _ => format!(
                        "<service-instance template=\"{}\">",
                        sa.required("template")?
                    ),
                };
                ctx.unsupported(
                    line,
                    &named,
                    &format!("IceBox {owner}"),
                    "IceBox services are not run; the icebox runs as a plain server",
                );
            }
            "target" => ctx.target(child, &owner)?,
            _ => return Err(misplaced(child, &el.tag())),
        }
    }
    let server = ServerSpec {
        id,
        exe,
        args,
        env,
        pwd,
        activation,
        activation_timeout,
        deactivation_timeout,
        log,
        adapters,
    };
    Ok((server, rel))
}

fn at(rel: &mut Relative, sub: &str, line: u32, what: String) {
    rel.push((sub.to_owned(), Origin { line, what }));
}

/// IceGrid's activation modes; without the attribute a server is `manual`, as in IceGrid.
fn activation(ctx: &mut Ctx, a: &mut Attrs<'_, '_>, owner: &str) -> Result<Activation, XmlError> {
    Ok(match a.get("activation") {
        None | Some("manual") => Activation::Manual,
        Some("always") => Activation::Always,
        Some("on-demand") => Activation::OnDemand,
        Some("session") => {
            ctx.warn(
                a.line("activation"),
                format!(
                    "activation=\"session\" of {owner} is deployed as on-demand (servers are \
                     not allocated to client sessions)"
                ),
            );
            Activation::OnDemand
        }
        Some(v) => {
            return Err(XmlError::at(
                a.line("activation"),
                format!(
                    "activation=\"{v}\" of {owner} is not always, on-demand, session or manual"
                ),
            ));
        }
    })
}

/// A timeout in seconds (IceGrid's unit); empty or 0 means the default, as in IceGrid.
fn seconds(
    a: &mut Attrs<'_, '_>,
    name: &'static str,
    owner: &str,
) -> Result<Option<f64>, XmlError> {
    let Some(text) = a.get(name).map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let bad = |why: &str| XmlError::at(a.line(name), format!("{name}=\"{text}\" of {owner} {why}"));
    if text.contains('$') {
        return Err(bad(
            "uses a variable; a timeout must be written as a number of seconds",
        ));
    }
    match text.parse::<f64>() {
        Ok(0.0) => Ok(None),
        Ok(s) if s.is_finite() && s > 0.0 => Ok(Some(s)),
        _ => Err(bad("is not a number of seconds")),
    }
}

fn adapter(
    ctx: &mut Ctx,
    el: El<'_, '_>,
    server: &str,
) -> Result<(AdapterSpec, Relative), XmlError> {
    let mut a = el.attrs();
    let name = a.required("name")?.to_owned();
    let owner = format!("adapter {name} of {server}");
    let mut rel: Relative = vec![
        (
            String::new(),
            Origin {
                line: el.line(),
                what: format!("<adapter name=\"{name}\"> of {server}"),
            },
        ),
        (
            ".name".into(),
            Origin {
                line: a.line("name"),
                what: format!("attribute name of <adapter> of {server}"),
            },
        ),
    ];
    let id = a.get("id").map(str::to_owned);
    if id.is_some() {
        rel.push((
            ".id".into(),
            Origin {
                line: a.line("id"),
                what: format!("attribute id of {owner}"),
            },
        ));
    }
    let replica_group = a
        .get("replica-group")
        .filter(|g| !g.is_empty())
        .map(str::to_owned);
    rel.push((
        ".replica-group".into(),
        Origin {
            line: a.line("replica-group"),
            what: format!("attribute replica-group of {owner}"),
        },
    ));
    if let Some(e) = a.get("endpoints").filter(|e| !equivalent_endpoints(e)) {
        ctx.unsupported(
            a.line("endpoints"),
            &format!("attribute endpoints=\"{e}\""),
            &owner,
            "a server binds a free port on its node's address and reports it",
        );
    }
    a.unsupported(
        ctx,
        "priority",
        &owner,
        "ordered replica groups keep the descriptor's order",
    );
    a.unsupported(
        ctx,
        "proxy-options",
        &owner,
        "locate answers plain endpoints",
    );
    // The node owns every server's process, so register-process changes nothing.
    a.boolean("register-process", false)?;
    if !a.boolean("server-lifetime", true)? {
        ctx.unsupported(
            a.line("server-lifetime"),
            "attribute server-lifetime=\"false\"",
            &owner,
            "a server is active once every adapter has reported its endpoint",
        );
    }
    a.done()?;
    for child in el.children()? {
        match child.name() {
            "object" | "allocatable" => ctx.object(child, &owner)?,
            "description" => ctx.description(child, &owner),
            "target" => ctx.target(child, &owner)?,
            _ => return Err(misplaced(child, "<adapter>")),
        }
    }
    let spec = AdapterSpec {
        name,
        id,
        replica_group,
    };
    Ok((spec, rel))
}

/// Endpoints that ask for what every server here does anyway: TCP on any free port.
fn equivalent_endpoints(endpoints: &str) -> bool {
    endpoints.split(':').all(|spec| {
        let words: Vec<&str> = spec.split_whitespace().collect();
        matches!(
            words.as_slice(),
            ["tcp" | "default"] | ["tcp" | "default", "-p", "0"]
        )
    })
}

#[cfg(test)]
mod tests {
    use super::equivalent_endpoints;

    #[test]
    fn only_any_port_tcp_endpoints_are_equivalent() {
        assert!(equivalent_endpoints("default"));
        assert!(equivalent_endpoints("tcp"));
        assert!(equivalent_endpoints("tcp -p 0"));
        assert!(equivalent_endpoints("tcp : default"));
        assert!(!equivalent_endpoints("tcp -h localhost"));
        assert!(!equivalent_endpoints("tcp -p 10000"));
        assert!(!equivalent_endpoints("ssl"));
        assert!(!equivalent_endpoints("tcp : udp"));
        assert!(!equivalent_endpoints(""));
    }
}
