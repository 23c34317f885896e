//! The model's operations keep the store, the live view, the serials and the events in step.

use std::collections::BTreeSet;

use grid_proto::api::EventKind;
use grid_proto::metrics::prometheus_client::metrics::counter::Counter;

use super::{Model, ModelError, Push};
use crate::store::Store;

use grid_testkit::app::TWO_MEDIA_SERVERS as APP;

fn nodes(push: Push) -> Vec<String> {
    push.nodes().iter().cloned().collect()
}

#[tokio::test]
async fn durable_changes_keep_flags_serials_and_events_in_step() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let published = Counter::default();
    let model = Model::load(store.clone(), published.clone()).unwrap();
    let (mut events, serial) = model.subscribe();
    assert_eq!(serial, 0);

    let (changed, push) = model.add_application(APP).await.unwrap();
    assert_eq!(nodes(push), ["node1", "node2"]);
    assert_eq!(changed.serial, 1);
    assert_eq!(changed.diff.added, ["MediaServer-1", "MediaServer-2"]);
    assert_eq!(model.view().assignment("node2").serial, 1);

    // A flag change bumps the assignment serial once, and a repeat changes nothing.
    let (node, push) = model.stop_server("MediaServer-2").await.unwrap();
    assert_eq!(
        (node.as_str(), nodes(push)),
        ("node2", vec!["node2".to_owned()])
    );
    let (_, push) = model.stop_server("MediaServer-2").await.unwrap();
    assert!(push.nodes().is_empty());
    let assignment = model.view().assignment("node2");
    assert_eq!(assignment.serial, 2);
    assert!(assignment.servers[0].stopped);

    // A disabled server cannot be started, and the refusal changes nothing.
    drop(model.enable_server("MediaServer-1", false).await.unwrap());
    let err = model.start_server("MediaServer-1").await.unwrap_err();
    assert!(
        matches!(&err, ModelError::Disabled(id) if id == "MediaServer-1"),
        "{err}"
    );
    assert_eq!(model.view().assignment("node1").serial, 3);

    // An update that drops a server forgets its flags, in the store too.
    let one = APP.replace(
        "[[nodes.node2.server-instances]]\ntemplate = \"MS\"\nparameters = { index = \"2\" }\n",
        "",
    );
    let (changed, push) = model.update_application("Spotifice", &one).await.unwrap();
    assert_eq!(nodes(push), ["node1", "node2"]);
    assert_eq!(
        (changed.serial, changed.diff.removed),
        (2, vec!["MediaServer-2".to_owned()])
    );
    let err = model.view().server("MediaServer-2").unwrap_err();
    assert!(
        matches!(&err, ModelError::UnknownServer(id) if id == "MediaServer-2"),
        "{err}"
    );
    let flagged: BTreeSet<String> = store
        .flags()
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(flagged, BTreeSet::from(["MediaServer-1".to_owned()]));

    // What a restart loads from the store is what the live view holds.
    let again = Model::load(store, Counter::default()).unwrap();
    assert_eq!(
        again.view().assignment("node1"),
        model.view().assignment("node1")
    );
    let summaries = |m: &Model| serde_json::to_value(m.view().app_summaries()).unwrap();
    assert_eq!(summaries(&again), summaries(&model));

    // Each deploy and each flag change that changed something publishes one event, in order.
    let mut kinds = Vec::new();
    for _ in 0..4 {
        kinds.push(events.recv().await.unwrap());
    }
    assert!(
        matches!(&kinds[0].kind, EventKind::ApplicationAdded { name, serial: 1 } if name == "Spotifice")
    );
    assert!(matches!(
        &kinds[1].kind,
        EventKind::ServerFlags { server, enabled: true, stopped: true } if server == "MediaServer-2"
    ));
    assert!(matches!(
        &kinds[2].kind,
        EventKind::ServerFlags { server, enabled: false, stopped: false } if server == "MediaServer-1"
    ));
    assert!(
        matches!(&kinds[3].kind, EventKind::ApplicationUpdated { name, serial: 2 } if name == "Spotifice")
    );
    let serials: Vec<u64> = kinds.iter().map(|e| e.serial).collect();
    assert_eq!(serials, [1, 2, 3, 4]);
    assert_eq!(model.event_serial(), 4);
    assert_eq!(published.get(), 4);
}
