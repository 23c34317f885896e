//! IceGrid XML descriptors: a ZeroC-demo-style application translated into exactly the
//! descriptor its TOML twin parses to, every element without an equivalent warned with its
//! line, clear errors for bad XML, and `config/spotifice.xml` equal to `config/spotifice.toml`.

use grid_proto::descriptor::{Activation, ApplicationDescriptor};
use grid_proto::icegrid::{Translation, Warning, XmlError, translate};

const SIMPLE: &str = include_str!("data/icegrid/simple.xml");
const UNSUPPORTED: &str = include_str!("data/icegrid/unsupported.xml");

/// The 1-based line of the only occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> u32 {
    let found: Vec<usize> = text.match_indices(needle).map(|(i, _)| i).collect();
    assert_eq!(found.len(), 1, "{needle:?} must occur once");
    (text[..found[0]].matches('\n').count() + 1) as u32
}

fn warning(text: &str, needle: &str, message: &str) -> Warning {
    Warning {
        line: line_of(text, needle),
        message: message.to_owned(),
    }
}

fn at(line: u32, message: &str) -> XmlError {
    XmlError {
        line: Some(line),
        message: message.to_owned(),
    }
}

fn translated(xml: &str) -> Translation {
    translate(xml).unwrap_or_else(|e| panic!("{e}"))
}

/// The error a descriptor gives, from translation or from expansion.
fn error(xml: &str) -> XmlError {
    match translate(xml) {
        Err(e) => e,
        Ok(t) => t.expand().expect_err("the descriptor should be rejected"),
    }
}

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
fn every_element_without_an_equivalent_is_one_warning() {
    let x = UNSUPPORTED;
    let t = translated(x);
    let expected = [
        (
            "import-default-templates",
            "attribute import-default-templates=\"true\" of application Everything has no \
             equivalent (the registry has no default templates); ignored",
        ),
        (
            "<properties id=\"Shared\">",
            "<properties> of application Everything has no equivalent (servers are configured \
             by options and env); ignored",
        ),
        (
            "<distrib icepatch",
            "<distrib> of application Everything has no equivalent (no IcePatch2 \
             distribution); ignored",
        ),
        (
            "<service-template",
            "<service-template> of application Everything has no equivalent (IceBox services \
             are not run); ignored",
        ),
        (
            "proxy-options=\"-t\"",
            "attribute proxy-options=\"-t\" of replica-group Group has no equivalent (locate \
             answers plain endpoints); ignored",
        ),
        (
            "filter=",
            "attribute filter=\"byName\" of replica-group Group has no equivalent (the \
             registry has no replica group filters); ignored",
        ),
        (
            "<description>replicas",
            "<description> of replica-group Group has no equivalent (only the application has \
             one); ignored",
        ),
        (
            "load-sample",
            "attribute load-sample=\"5\" of replica-group Group has no equivalent (the adaptive \
             policy orders nodes by their 1-minute load average); ignored",
        ),
        (
            "groupobject",
            "<object identity=\"groupobject\"> of replica-group Group has no equivalent (no \
             well-known objects: clients locate adapters and replica groups by id); ignored",
        ),
        (
            "activation=\"session\"",
            "activation=\"session\" of server-template Worker is deployed as on-demand \
             (servers are not allocated to client sessions)",
        ),
        (
            "allocatable=\"true\"",
            "attribute allocatable=\"true\" of server-template Worker has no equivalent \
             (servers are not allocated to client sessions); ignored",
        ),
        (
            "user=",
            "attribute user=\"nobody\" of server-template Worker has no equivalent (servers \
             run as their node's user); ignored",
        ),
        (
            "ice-version=",
            "attribute ice-version=\"3.7\" of server-template Worker has no equivalent \
             (servers speak HTTP, not Ice); ignored",
        ),
        (
            "application-distrib=",
            "attribute application-distrib=\"false\" of server-template Worker has no \
             equivalent (no IcePatch2 distribution); ignored",
        ),
        (
            "<description>a worker",
            "<description> of server-template Worker has no equivalent (only the application \
             has one); ignored",
        ),
        (
            "MODE=b",
            "<env> MODE of server-template Worker is set twice; the last value is used",
        ),
        (
            "<properties>\n          <property name=\"Ice.Warn",
            "<properties> of server-template Worker has no equivalent (servers are configured \
             by options and env); ignored",
        ),
        (
            "<property name=\"Identity\"",
            "<property name=\"Identity\"> of server-template Worker has no equivalent (servers \
             are configured by options and env); ignored",
        ),
        (
            "<dbenv",
            "<dbenv> of server-template Worker has no equivalent (no Freeze database \
             environments); ignored",
        ),
        (
            "<distrib>",
            "<distrib> of server-template Worker has no equivalent (no IcePatch2 \
             distribution); ignored",
        ),
        (
            "tcp -p 10000",
            "attribute endpoints=\"tcp -p 10000\" of adapter Work of server-template Worker \
             has no equivalent (a server binds a free port on its node's address and reports \
             it); ignored",
        ),
        (
            "priority=",
            "attribute priority=\"1\" of adapter Work of server-template Worker has no \
             equivalent (ordered replica groups keep the descriptor's order); ignored",
        ),
        (
            "proxy-options=\"-o\"",
            "attribute proxy-options=\"-o\" of adapter Work of server-template Worker has no \
             equivalent (locate answers plain endpoints); ignored",
        ),
        (
            "server-lifetime=",
            "attribute server-lifetime=\"false\" of adapter Work of server-template Worker has \
             no equivalent (a server is active once every adapter has reported its endpoint); \
             ignored",
        ),
        (
            "<description>work<",
            "<description> of adapter Work of server-template Worker has no equivalent (only \
             the application has one); ignored",
        ),
        (
            "<object identity=\"work",
            "<object identity=\"work-${index}\"> of adapter Work of server-template Worker has \
             no equivalent (no well-known objects: clients locate adapters and replica groups \
             by id); ignored",
        ),
        (
            "<allocatable",
            "<allocatable identity=\"lock-${index}\"> of adapter Work of server-template \
             Worker has no equivalent (servers are not allocated to client sessions); ignored",
        ),
        (
            "Worker.LogFile",
            "attribute property=\"Worker.LogFile\" of <log path=\"worker-${index}.log\"> of \
             server-template Worker has no equivalent (a server's stdout goes to its log file); \
             ignored",
        ),
        (
            "-trace.log",
            "a second <log path=\"worker-${index}-trace.log\"> of server-template Worker has \
             no equivalent (a server has one log file here, the first one); ignored",
        ),
        (
            "load-factor",
            "attribute load-factor=\"2\" of node node1 has no equivalent (adaptive load \
             balancing divides a node's load by its CPUs); ignored",
        ),
        (
            "<description>the first node",
            "<description> of node node1 has no equivalent (only the application has one); \
             ignored",
        ),
        (
            "NodeProps",
            "<properties> of node node1 has no equivalent (servers are configured by options \
             and env); ignored",
        ),
        (
            "name=\"x\" value=\"2\"",
            "variable x of node node1 is defined twice; the last value is used",
        ),
        (
            "<properties>\n          <property name=\"Extra",
            "<properties> of server-instance of Worker on node node1 has no equivalent \
             (servers are configured by options and env); ignored",
        ),
        (
            "<service name=\"Hello\"",
            "<service name=\"Hello\"> of IceBox server Box has no equivalent (IceBox services \
             are not run; the icebox runs as a plain server); ignored",
        ),
        (
            "<service-instance",
            "<service-instance template=\"HelloService\"> of IceBox server Box has no \
             equivalent (IceBox services are not run; the icebox runs as a plain server); \
             ignored",
        ),
        (
            "<target",
            "<target name=\"debug\"> of node node1 is not deployed (no deployment targets are \
             given, as to icegridadmin without targets); its contents are ignored",
        ),
    ];
    let expected: Vec<Warning> = expected
        .iter()
        .map(|(needle, message)| warning(x, needle, message))
        .collect();
    assert_eq!(t.warnings, expected);

    // What does have an equivalent still deploys.
    let app = t.expand().unwrap();
    let ids: Vec<_> = app.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["Worker-1", "Box"]);
    let worker = &app.servers[0];
    assert_eq!(worker.activation, Activation::OnDemand);
    assert_eq!(worker.env.get("MODE").map(String::as_str), Some("b"));
    assert_eq!(worker.log.as_deref(), Some("worker-1.log"));
    assert_eq!(worker.adapters[0].id, "Worker-1.Work");
    assert_eq!(app.servers[1].activation, Activation::Manual);
    assert_eq!(app.servers[1].args, ["1000"]);
    let group = &t.descriptor.replica_groups["Group"];
    assert_eq!(group.n_replicas, 2);
}

const BASE: &str = r#"<?xml version="1.0"?>
<icegrid>
  <application name="A">
    <replica-group id="G"><load-balancing type="ordered" n-replicas="0"/></replica-group>
    <server-template id="T">
      <parameter name="index"/>
      <server id="S-${index}" exe="/bin/sleep" activation="always">
        <option>1000</option>
        <adapter name="Ad" replica-group="G"/>
      </server>
    </server-template>
    <node name="node1">
      <server-instance template="T" index="1"/>
      <server id="Plain" exe="/bin/true"/>
    </node>
  </application>
</icegrid>
"#;

/// `BASE` with `from` replaced by `to`, and the line `to` starts on.
fn bad(from: &str, to: &str) -> (String, u32) {
    assert!(BASE.contains(from), "{from:?}");
    let text = BASE.replacen(from, to, 1);
    let line = line_of(&text, to);
    (text, line)
}

fn assert_error(from: &str, to: &str, message: &str) {
    let (text, line) = bad(from, to);
    assert_eq!(
        error(&text),
        XmlError {
            line: Some(line),
            message: message.to_owned()
        },
        "{to}"
    );
}

#[test]
fn the_base_descriptor_is_valid() {
    let t = translated(BASE);
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    let app = t.expand().unwrap();
    assert_eq!(app.servers.len(), 2);
}

#[test]
fn bad_descriptors_name_the_element_attribute_and_line() {
    let (text, _) = bad("</node>", "</nod>");
    let e = error(&text);
    assert_eq!(e.line, Some(line_of(&text, "</nod>")));
    assert!(
        e.message
            .starts_with("not well-formed XML: expected 'node' tag, not 'nod'"),
        "{e}"
    );

    assert_eq!(
        error("<application name=\"A\"/>"),
        at(
            1,
            "the root element is <application>; an IceGrid descriptor's is <icegrid>"
        )
    );
    assert_eq!(
        error("<icegrid/>"),
        at(1, "<icegrid> holds no <application>")
    );
    assert_error(
        "<server id=\"Plain\"",
        "<servr id=\"Plain\"",
        "<servr> is not an element IceGrid allows in <node>",
    );
    assert_error(
        "exe=\"/bin/true\"",
        "exe=\"/bin/true\" colour=\"red\"",
        "unknown attribute colour of <server>",
    );
    assert_error(
        "<server id=\"Plain\" exe=\"/bin/true\"/>",
        "<server exe=\"/bin/true\"/>",
        "<server> has no id attribute",
    );
    assert_error(
        "activation=\"always\"",
        "activation=\"sometimes\"",
        "activation=\"sometimes\" of server-template T is not always, on-demand, session or \
         manual",
    );
    assert_error(
        "exe=\"/bin/true\"",
        "exe=\"/bin/true\" deactivation-timeout=\"soon\"",
        "deactivation-timeout=\"soon\" of server Plain is not a number of seconds",
    );
    assert_error(
        "exe=\"/bin/true\"",
        "exe=\"/bin/true\" activation-timeout=\"${t}\"",
        "activation-timeout=\"${t}\" of server Plain uses a variable; a timeout must be \
         written as a number of seconds",
    );
    assert_error(
        "<option>1000</option>",
        "<env>JUSTANAME</env>",
        "<env>JUSTANAME</env> of server-template T is not NAME=VALUE",
    );
    assert_error(
        "type=\"ordered\"",
        "type=\"fastest\"",
        "<load-balancing type=\"fastest\"> of replica-group G is not random, ordered, \
         round-robin or adaptive",
    );
    assert_error(
        "n-replicas=\"0\"",
        "n-replicas=\"all\"",
        "n-replicas=\"all\" of replica-group G is not a whole number of replicas (0: all of \
         them)",
    );
    assert_error(
        "<option>1000</option>",
        "<option>1000<b/></option>",
        "<option> takes text only, not <b>",
    );
    assert_error(
        "<parameter name=\"index\"/>",
        "<parameter name=\"index\"/><parameter name=\"index\"/>",
        "parameter 'index' of server-template T is declared twice",
    );
    let (text, _) = bad("<server id=\"Plain\"", "words <server id=\"Plain\"");
    assert_eq!(error(&text).message, "<node> takes no text, only elements");
    assert_eq!(
        error(&BASE.replace("</application>", "</application><include file=\"x.xml\"/>")).message,
        "<include> is not supported: copy the included file's elements here"
    );
}

#[test]
fn expansion_errors_point_at_the_xml() {
    // A template's error is shown where the template says it, with the instance's line.
    let (text, line) = bad("<option>1000</option>", "<option>${nope}</option>");
    let instance = line_of(&text, "<server-instance");
    assert_eq!(
        error(&text),
        at(
            line,
            &format!(
                "<option> of server-template T (instantiated at line {instance}): undefined \
                 variable '${{nope}}'"
            ),
        )
    );
    assert_error(
        "exe=\"/bin/true\"",
        "exe=\"${node.os}/true\"",
        "attribute exe of server Plain: undefined variable '${node.os}' (IceGrid defines \
         ${node.os}; Spotifice Grid has only ${application}, ${node} and ${server})",
    );
    assert_error(
        "<server-instance template=\"T\" index=\"1\"/>",
        "<server-instance template=\"Nope\" index=\"1\"/>",
        "<server-instance template=\"Nope\"> on node node1: unknown template 'Nope'",
    );
    let (text, line) = bad("index=\"1\"/>", "index=\"1\" colour=\"red\"/>");
    assert_eq!(
        error(&text),
        at(
            line,
            "colour of <server-instance template=\"T\"> on node node1: template 'T' has no \
             parameter 'colour'"
        )
    );
    assert_error(
        "<server-instance template=\"T\" index=\"1\"/>",
        "<server-instance template=\"T\"/>",
        "<server-instance template=\"T\"> on node node1: template 'T' needs parameter 'index'",
    );
    assert_error(
        "replica-group=\"G\"",
        "replica-group=\"H\"",
        &format!(
            "attribute replica-group of adapter Ad of server-template T (instantiated at line \
             {}): unknown replica group 'H'",
            line_of(BASE, "<server-instance")
        ),
    );
    assert_error(
        "exe=\"/bin/true\"",
        "exe=\"/bin/true\" deactivation-timeout=\"7200\"",
        "attribute deactivation-timeout of server Plain: 7200 is not a number of seconds \
         between 0 and 3600",
    );
    let (text, _) = bad("<server id=\"Plain\"", "<server id=\"S-1\"");
    assert_eq!(
        error(&text),
        at(
            line_of(&text, "<node name"),
            "<node name=\"node1\">: server id 'S-1' is used twice"
        )
    );
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
