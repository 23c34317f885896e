//! Bad descriptors: errors name the element, the attribute and the line.

use grid_proto::icegrid::XmlError;

use super::{at, error, line_of, translated};

pub const BASE: &str = r#"<?xml version="1.0"?>
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
