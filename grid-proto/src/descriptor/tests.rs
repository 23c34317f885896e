use super::*;

const SAMPLE: &str = r#"
name = "Spotifice"
[variables]
library = "media"
[replica-groups.MediaServerGroup]
load-balancing = "round-robin"
[templates.MediaServer]
parameters = ["index", "extra"]
defaults = { extra = "x" }
[templates.MediaServer.server]
id = "MediaServer-${index}"
exe = "media-server"
args = ["--library", "${library}", "${extra}"]
log = "mediaserver${index}.log"
adapters = [{ name = "Adapter", replica-group = "MediaServerGroup" }]
[[nodes.node1.server-instances]]
template = "MediaServer"
parameters = { index = "1" }
[[nodes.node2.server-instances]]
template = "MediaServer"
parameters = { index = "2", extra = "y" }
[[nodes.node2.servers]]
id = "Plain"
exe = "/bin/sleep"
args = ["60"]
activation = "manual"
deactivation-timeout = 0.5
"#;

/// `text` parsed and expanded.
fn expanded(text: &str) -> ExpandedApplication {
    ApplicationDescriptor::parse(text)
        .unwrap()
        .expand()
        .unwrap()
}

/// The error expanding `text` gives (it parses).
fn expand_err(text: &str) -> DescriptorError {
    ApplicationDescriptor::parse(text)
        .unwrap()
        .expand()
        .unwrap_err()
}

#[test]
fn expands_templates_and_defaults() {
    let app = expanded(SAMPLE);
    let ids: Vec<_> = app.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["MediaServer-1", "MediaServer-2", "Plain"]);
    let s1 = &app.servers[0];
    assert_eq!(s1.args, ["--library", "media", "x"]);
    assert_eq!(s1.log.as_deref(), Some("mediaserver1.log"));
    assert_eq!(s1.adapters[0].id, "MediaServer-1.Adapter");
    assert_eq!(
        s1.adapters[0].replica_group.as_deref(),
        Some("MediaServerGroup")
    );
    assert_eq!(app.servers[1].args[2], "y");
    assert_eq!(app.servers[2].activation, Activation::Manual);
    assert_eq!(app.servers[2].deactivation_timeout_ms, 500);
}

#[test]
fn json_is_accepted() {
    let toml_app = ApplicationDescriptor::parse(SAMPLE).unwrap();
    let json = serde_json::to_string(&toml_app).unwrap();
    assert_eq!(ApplicationDescriptor::parse(&json).unwrap(), toml_app);
}

#[test]
fn errors_name_the_field() {
    let bad = SAMPLE.replace(
        "template = \"MediaServer\"\nparameters = { index = \"1\" }",
        "template = \"Nope\"",
    );
    let err = expand_err(&bad);
    assert_eq!(err.field, "nodes.node1.server-instances[0].template");
    assert!(err.reason.contains("unknown template 'Nope'"));

    let bad = SAMPLE.replace(
        "replica-group = \"MediaServerGroup\"",
        "replica-group = \"G\"",
    );
    let err = expand_err(&bad);
    assert!(err.reason.contains("unknown replica group 'G'"), "{err}");

    let bad = SAMPLE.replace("parameters = { index = \"1\" }", "parameters = { }");
    let err = expand_err(&bad);
    assert_eq!(
        err.field,
        "nodes.node1.server-instances[0].parameters.index"
    );

    let bad = SAMPLE.replace("activation = \"manual\"", "activation = \"sometimes\"");
    let err = ApplicationDescriptor::parse(&bad).unwrap_err();
    assert!(err.field.contains("line"), "{err}");

    let bad = SAMPLE.replace("\"mediaserver${index}.log\"", "\"${nope}.log\"");
    let err = expand_err(&bad);
    assert!(err.reason.contains("undefined variable '${nope}'"), "{err}");

    let bad = SAMPLE.replace("id = \"Plain\"", "id = \"MediaServer-1\"");
    let err = expand_err(&bad);
    assert!(err.reason.contains("used twice"), "{err}");

    let bad = SAMPLE.replace("deactivation-timeout = 0.5", "deactivation-timeout = -1");
    let err = expand_err(&bad);
    assert!(err.field.ends_with("deactivation-timeout"), "{err}");
}

#[test]
fn substitution_rules() {
    let vars = BTreeMap::from([("a".to_owned(), "1".to_owned())]);
    assert_eq!(substitute("x${a}y$$z$", &vars).unwrap(), "x1y$z$");
    assert!(substitute("${b}", &vars).is_err());
    assert!(substitute("${a", &vars).is_err());
}

#[test]
fn variables_and_parameters_may_refer_to_variables() {
    let text = SAMPLE
        .replace(
            "library = \"media\"",
            "library = \"${root}/media\"\nroot = \"/srv/${node}\"\nliteral = \"$${root}\"",
        )
        .replace(
            "index = \"2\", extra = \"y\"",
            "index = \"2\", extra = \"${literal}\"",
        );
    let app = expanded(&text);
    assert_eq!(app.servers[0].args, ["--library", "/srv/node1/media", "x"]);
    assert_eq!(
        app.servers[1].args,
        ["--library", "/srv/node2/media", "${root}"]
    );

    let cyclic = SAMPLE.replace(
        "library = \"media\"",
        "library = \"${a}\"\na = \"${library}\"",
    );
    let err = expand_err(&cyclic);
    assert_eq!(err.field, "variables.a");
    assert_eq!(
        err.reason,
        "variable 'a' refers to itself (a -> library -> a)"
    );
}
