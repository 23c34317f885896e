//! Translation: a demo application, IceGrid's defaults, the trip through TOML, Spotifice.

use grid_proto::descriptor::{Activation, ApplicationDescriptor};

use super::errors::BASE;
use super::{SIMPLE, UNSUPPORTED, translated, warning};

const SIMPLE_AS_TOML: &str = r#"
name = "Simple"
description = "Hello servers behind a replica group"
[variables]
root = "/opt/simple"
bin = "${root}/bin"
[replica-groups.ReplicatedHelloAdapter]
load-balancing = "round-robin"
n-replicas = 1
[templates.SimpleServer]
parameters = ["index", "greeting"]
defaults = { greeting = "hello" }
[templates.SimpleServer.server]
id = "SimpleServer-${index}"
exe = "${bin}/server"
args = ["--greeting", "${greeting}", "--name=${server}@${node}"]
env = { SIMPLE_INDEX = "${index}", LANG = "C" }
pwd = "${root}"
activation = "on-demand"
activation-timeout = 30
deactivation-timeout = 2
log = "simple-${index}.log"
adapters = [{ name = "Hello", replica-group = "ReplicatedHelloAdapter" }]
[[nodes.node1.server-instances]]
template = "SimpleServer"
parameters = { index = "1" }
[[nodes.node1.server-instances]]
template = "SimpleServer"
parameters = { index = "2", greeting = "hola" }
[[nodes.node1.server-instances]]
template = "SimpleServer"
parameters = { index = "3" }
[nodes.node2.variables]
root = "/srv/hello"
[[nodes.node2.servers]]
id = "HelloServer"
exe = "./server"
activation = "always"
adapters = [{ name = "Hello", id = "HelloAdapter" }]
"#;

#[test]
fn a_demo_application_translates_to_its_toml_twin() {
    let t = translated(SIMPLE);
    let twin = ApplicationDescriptor::parse(SIMPLE_AS_TOML).unwrap();
    assert_eq!(t.descriptor, twin);
    assert_eq!(
        t.warnings,
        [
            warning(
                SIMPLE,
                "endpoints=\"tcp -h localhost\"",
                "attribute endpoints=\"tcp -h localhost\" of adapter Hello of server-template \
                 SimpleServer has no equivalent (a server binds a free port on its node's \
                 address and reports it); ignored"
            ),
            warning(
                SIMPLE,
                "<property name=\"Identity\"",
                "<property name=\"Identity\"> of server-template SimpleServer has no equivalent \
                 (servers are configured by options and env); ignored"
            ),
            warning(
                SIMPLE,
                "<object identity=\"hello\"",
                "<object identity=\"hello\"> of replica-group ReplicatedHelloAdapter has no \
                 equivalent (no well-known objects: clients locate adapters and replica groups \
                 by id); ignored"
            ),
        ]
    );

    let app = t.expand().unwrap();
    let ids: Vec<_> = app
        .servers
        .iter()
        .map(|s| (s.node.as_str(), s.id.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("node1", "SimpleServer-1"),
            ("node1", "SimpleServer-2"),
            ("node1", "SimpleServer-3"),
            ("node2", "HelloServer"),
        ]
    );
    let s1 = &app.servers[0];
    assert_eq!(s1.exe, "/opt/simple/bin/server");
    assert_eq!(
        s1.args,
        ["--greeting", "hello", "--name=SimpleServer-1@node1"]
    );
    assert_eq!(s1.env.get("SIMPLE_INDEX").map(String::as_str), Some("1"));
    assert_eq!(s1.env.get("LANG").map(String::as_str), Some("C"));
    assert_eq!(s1.pwd.as_deref(), Some("/opt/simple"));
    assert_eq!(s1.activation, Activation::OnDemand);
    assert_eq!(
        (s1.activation_timeout_ms, s1.deactivation_timeout_ms),
        (30_000, 2_000)
    );
    assert_eq!(s1.log.as_deref(), Some("simple-1.log"));
    assert_eq!(s1.adapters[0].id, "SimpleServer-1.Hello");
    assert_eq!(
        s1.adapters[0].replica_group.as_deref(),
        Some("ReplicatedHelloAdapter")
    );
    assert_eq!(app.servers[1].args[1], "hola");
    let hello = &app.servers[3];
    assert_eq!(hello.activation, Activation::Always);
    assert_eq!(hello.adapters[0].id, "HelloAdapter");
    assert_eq!(hello.adapters[0].replica_group, None);
    assert_eq!(
        (hello.activation_timeout_ms, hello.deactivation_timeout_ms),
        (10_000, 5_000)
    );
}

#[test]
fn icegrid_defaults_are_kept_where_ours_differ() {
    let t = translated(
        r#"<icegrid><application name="D">
             <replica-group id="Any"/>
             <node name="n"><server id="S" exe="/bin/true"><adapter name="A" replica-group="Any"/></server></node>
           </application></icegrid>"#,
    );
    // No activation: manual. No <load-balancing>: random over every replica.
    assert_eq!(
        t.descriptor.nodes["n"].servers[0].activation,
        Activation::Manual
    );
    let group = &t.descriptor.replica_groups["Any"];
    assert_eq!(
        (group.load_balancing, group.n_replicas),
        (grid_proto::descriptor::LoadBalancing::Random, 0)
    );
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
}

#[test]
fn the_translation_survives_the_trip_through_toml() {
    for xml in [SIMPLE, UNSUPPORTED, BASE] {
        let t = translated(xml);
        let text = t.to_toml("app.xml").unwrap();
        assert!(
            text.starts_with(
                "# Translated by gridadmin from the IceGrid XML descriptor app.xml.\n"
            ),
            "{text}"
        );
        assert_eq!(ApplicationDescriptor::parse(&text).unwrap(), t.descriptor);
    }
}

fn config(name: &str) -> String {
    let path = format!("{}/../config/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn spotifice_xml_is_spotifice_toml() {
    let t = translated(&config("spotifice.xml"));
    assert_eq!(t.warnings, []);
    let toml = ApplicationDescriptor::parse(&config("spotifice.toml")).unwrap();
    assert_eq!(t.descriptor, toml);
    assert_eq!(t.expand().unwrap(), toml.expand().unwrap());
}
