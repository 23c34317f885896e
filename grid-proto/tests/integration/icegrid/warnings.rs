//! Every IceGrid element and attribute without an equivalent is one warning, with its line.

use grid_proto::descriptor::Activation;
use grid_proto::icegrid::Warning;

use super::{UNSUPPORTED, translated, warning};

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
