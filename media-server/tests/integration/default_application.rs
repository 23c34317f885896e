//! `config/spotifice.toml`, the default application, is valid and places a MediaServer and a
//! MediaRender on each of two nodes.

use grid_proto::descriptor::{Activation, ApplicationDescriptor};

#[test]
fn the_default_application_expands() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/spotifice.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let app = ApplicationDescriptor::parse(&text)
        .unwrap()
        .expand()
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(app.descriptor.name, "Spotifice");

    let placed: Vec<_> = app
        .servers
        .iter()
        .map(|s| {
            (
                s.node.as_str(),
                s.id.as_str(),
                s.exe.as_str(),
                s.log.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        placed,
        [
            (
                "node1",
                "MediaServer-1",
                "media-server",
                Some("mediaserver1.log")
            ),
            (
                "node1",
                "MediaRender-1",
                "media-render",
                Some("mediarender1.log")
            ),
            (
                "node2",
                "MediaServer-2",
                "media-server",
                Some("mediaserver2.log")
            ),
            (
                "node2",
                "MediaRender-2",
                "media-render",
                Some("mediarender2.log")
            ),
        ]
    );
    for s in &app.servers {
        assert_eq!(s.activation, Activation::Always, "{}", s.id);
        assert_eq!(s.deactivation_timeout_ms, 5000, "{}", s.id);
        assert_eq!(s.adapters.len(), 1, "{}", s.id);
        assert_eq!(s.adapters[0].name, "Adapter");
        assert_eq!(s.adapters[0].id, format!("{}.Adapter", s.id));
        let group = s.adapters[0].replica_group.as_deref();
        if s.exe == "media-server" {
            assert_eq!(
                s.args,
                [
                    "--library",
                    "media",
                    "--channels",
                    "config/channels.toml",
                    "--control",
                    "0"
                ]
            );
            assert_eq!(group, Some("MediaServerGroup"));
        } else {
            assert!(s.args.is_empty(), "{:?}", s.args);
            assert_eq!(group, None);
        }
    }
}
