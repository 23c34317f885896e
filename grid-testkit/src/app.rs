//! Application descriptors built in code: each suite names only what its test is about, and the
//! TOML it deploys is what `toml` writes of the registry's own descriptor types.

use std::collections::BTreeMap;

use grid_proto::descriptor::{
    AdapterSpec, ApplicationDescriptor, LoadBalancing, ReplicaGroup, ServerInstance, ServerSpec,
    ServerTemplate,
};
use grid_proto::media::SERVER_GROUP;

/// An application descriptor under construction.
#[derive(Debug, Clone)]
pub struct App(ApplicationDescriptor);

impl App {
    /// An empty application `name`.
    pub fn new(name: &str) -> Self {
        Self(ApplicationDescriptor {
            name: name.into(),
            description: None,
            variables: BTreeMap::new(),
            replica_groups: BTreeMap::new(),
            templates: BTreeMap::new(),
            nodes: BTreeMap::new(),
        })
    }

    /// Adds the replica group `id`.
    pub fn group(mut self, id: &str, load_balancing: LoadBalancing) -> Self {
        self.0.replica_groups.insert(
            id.into(),
            ReplicaGroup {
                load_balancing,
                n_replicas: 0,
            },
        );
        self
    }

    /// Adds the template `name`, with the one parameter `index`.
    pub fn template(mut self, name: &str, server: ServerSpec) -> Self {
        self.0.templates.insert(
            name.into(),
            ServerTemplate {
                parameters: vec!["index".into()],
                defaults: BTreeMap::new(),
                server,
            },
        );
        self
    }

    /// Places an instance of `template` with `index` on `node`.
    pub fn instance(mut self, node: &str, template: &str, index: u32) -> Self {
        let instances = &mut self.0.nodes.entry(node.into()).or_default();
        instances.server_instances.push(ServerInstance {
            template: template.into(),
            parameters: BTreeMap::from([("index".into(), index.to_string())]),
        });
        self
    }

    /// Places `server`, written out in full, on `node`.
    pub fn server(mut self, node: &str, server: ServerSpec) -> Self {
        self.0
            .nodes
            .entry(node.into())
            .or_default()
            .servers
            .push(server);
        self
    }

    /// The descriptor.
    pub fn descriptor(&self) -> &ApplicationDescriptor {
        &self.0
    }

    /// The descriptor as the TOML a person would deploy.
    pub fn toml(&self) -> String {
        toml::to_string(&self.0).expect("a descriptor is always TOML")
    }
}

/// A server `id` running `exe` with `args`, no adapter, started at once.
pub fn server(id: &str, exe: &str, args: &[&str]) -> ServerSpec {
    ServerSpec {
        id: id.into(),
        exe: exe.into(),
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        ..ServerSpec::default()
    }
}

/// Gives `spec` the adapter `Adapter`, in `group` if there is one.
pub fn with_adapter(mut spec: ServerSpec, group: Option<&str>) -> ServerSpec {
    spec.adapters.push(AdapterSpec {
        name: "Adapter".into(),
        id: None,
        replica_group: group.map(str::to_owned),
    });
    spec
}

/// The template server `MediaServer-${index}`, in the media server group, logging to
/// `mediaserver${index}.log`.
pub fn media_server(args: &[&str]) -> ServerSpec {
    let mut spec = with_adapter(
        server("MediaServer-${index}", "media-server", args),
        Some(SERVER_GROUP),
    );
    spec.log = Some("mediaserver${index}.log".into());
    spec
}

/// The template server `MediaRender-${index}`, logging to `mediarender${index}.log`.
pub fn media_render(args: &[&str]) -> ServerSpec {
    let mut spec = with_adapter(server("MediaRender-${index}", "media-render", args), None);
    spec.log = Some("mediarender${index}.log".into());
    spec
}

/// Stops within `seconds` of SIGTERM, or is killed.
pub fn deactivation(mut spec: ServerSpec, seconds: f64) -> ServerSpec {
    spec.deactivation_timeout = Some(seconds);
    spec
}

/// `spec` with its `${index}` filled in, to be placed on a node as it is.
pub fn indexed(mut spec: ServerSpec, index: u32) -> ServerSpec {
    let fill = |s: &mut String| *s = s.replace("${index}", &index.to_string());
    fill(&mut spec.id);
    spec.log.iter_mut().for_each(fill);
    spec.args.iter_mut().for_each(fill);
    spec
}

/// Two MediaServers (no library) in an `ordered` group, `MediaServer-1` on node1 and
/// `MediaServer-2` on node2: the registry's fixture, whose servers need not run. Written out, so
/// that a test can change one line of it.
pub const TWO_MEDIA_SERVERS: &str = r#"
name = "Spotifice"
[replica-groups.MediaServerGroup]
load-balancing = "ordered"
[templates.MS]
parameters = ["index"]
[templates.MS.server]
id = "MediaServer-${index}"
exe = "media-server"
adapters = [{ name = "Adapter", replica-group = "MediaServerGroup" }]
[[nodes.node1.server-instances]]
template = "MS"
parameters = { index = "1" }
[[nodes.node2.server-instances]]
template = "MS"
parameters = { index = "2" }
"#;

/// A MediaServer serving `library` and a MediaRender on each of node1 and node2, the group
/// round-robin.
pub fn four_servers(library: &str) -> App {
    four_servers_of(media_server(&["--library", library]), media_render(&[]))
}

/// [`four_servers`] from these two templates.
pub fn four_servers_of(server: ServerSpec, render: ServerSpec) -> App {
    App::new("Spotifice")
        .group(SERVER_GROUP, LoadBalancing::RoundRobin)
        .template("MediaServer", server)
        .template("MediaRender", render)
        .instance("node1", "MediaServer", 1)
        .instance("node1", "MediaRender", 1)
        .instance("node2", "MediaServer", 2)
        .instance("node2", "MediaRender", 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_toml_expands_to_the_servers_placed() {
        let app = four_servers("media");
        let parsed = ApplicationDescriptor::parse(&app.toml()).expect("parses");
        assert_eq!(&parsed, app.descriptor());
        let expanded = parsed.expand().expect("expands");
        let ids: Vec<_> = expanded.servers.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "MediaServer-1",
                "MediaRender-1",
                "MediaServer-2",
                "MediaRender-2"
            ]
        );
        let ms = &expanded.servers[0];
        assert_eq!(ms.args, ["--library", "media"]);
        assert_eq!(ms.log.as_deref(), Some("mediaserver1.log"));
        assert_eq!(ms.adapters[0].id, "MediaServer-1.Adapter");
    }
}
