//! Applications: list, describe, add, update, remove, diff.
//!
//! A change is validated in full first (parse, expand, no id shared with another application),
//! then committed to the store in one transaction, then applied to the live model, then pushed
//! to the nodes. A rejected descriptor changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use grid_proto::api::{
    ApplicationChanged, ApplicationDetail, ApplicationDiff, ApplicationSummary, DescriptorSource,
    EventKind,
};
use grid_proto::descriptor::{ApplicationDescriptor, ServerDescriptor};

use super::error::ApiError;
use super::extract::{Admin, Body};
use crate::model::{Deployed, Live};
use crate::state::AppState;
use crate::{node_link, store};

/// Every application.
pub(crate) async fn list(State(state): State<AppState>, _: Admin) -> Json<Vec<ApplicationSummary>> {
    Json(state.live().app_summaries())
}

/// One application with its source and expanded servers.
pub(crate) async fn describe(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> Result<Json<ApplicationDetail>, ApiError> {
    let live = state.live();
    let app = live.apps.get(&name).ok_or_else(|| unknown(&name))?;
    Ok(Json(ApplicationDetail {
        name: app.stored.name.clone(),
        serial: app.stored.serial,
        updated_ms: app.stored.updated_ms,
        source: app.stored.source.clone(),
        servers: app.servers.clone(),
    }))
}

fn unknown(name: &str) -> ApiError {
    ApiError::NotFound(format!("unknown application '{name}'"))
}

/// Parses, expands and checks a descriptor against the other applications.
fn validate(live: &Live, source: &str) -> Result<Deployed, ApiError> {
    let bad = |e: grid_proto::descriptor::DescriptorError| {
        ApiError::BadRequest(
            format!("invalid descriptor: {e}"),
            Some(serde_json::json!({ "field": e.field, "reason": e.reason })),
        )
    };
    let desc = ApplicationDescriptor::parse(source).map_err(bad)?;
    let expanded = desc.expand().map_err(bad)?;
    for (other_name, other) in &live.apps {
        if *other_name == desc.name {
            continue;
        }
        for s in &expanded.servers {
            if other.servers.iter().any(|o| o.id == s.id) {
                return Err(ApiError::Conflict(format!(
                    "server id '{}' is already used by application '{other_name}'",
                    s.id
                )));
            }
            for a in &s.adapters {
                if other
                    .servers
                    .iter()
                    .flat_map(|o| &o.adapters)
                    .any(|o| o.id == a.id)
                    || other.groups.contains_key(&a.id)
                {
                    return Err(ApiError::Conflict(format!(
                        "adapter id '{}' is already used by application '{other_name}'",
                        a.id
                    )));
                }
            }
        }
        for g in desc.replica_groups.keys() {
            if other.groups.contains_key(g) {
                return Err(ApiError::Conflict(format!(
                    "replica group '{g}' is already defined by application '{other_name}'"
                )));
            }
        }
    }
    let stored = store::new_application(&desc.name, source, 0);
    Ok(Deployed {
        stored,
        groups: desc.replica_groups,
        servers: expanded.servers,
    })
}

fn compare(
    name: &str,
    old: Option<&[ServerDescriptor]>,
    new: &[ServerDescriptor],
) -> ApplicationDiff {
    let old_map: BTreeMap<&str, &ServerDescriptor> = old
        .unwrap_or_default()
        .iter()
        .map(|s| (s.id.as_str(), s))
        .collect();
    let new_ids: BTreeSet<&str> = new.iter().map(|s| s.id.as_str()).collect();
    let mut d = ApplicationDiff {
        name: name.to_owned(),
        exists: old.is_some(),
        ..Default::default()
    };
    for s in new {
        match old_map.get(s.id.as_str()) {
            None => d.added.push(s.id.clone()),
            Some(o) if *o != s => d.changed.push(s.id.clone()),
            Some(_) => d.unchanged.push(s.id.clone()),
        }
    }
    d.removed = old_map
        .keys()
        .filter(|id| !new_ids.contains(*id))
        .map(|id| (*id).to_owned())
        .collect();
    d
}

/// `POST /v1/applications-diff`.
pub(crate) async fn diff(
    State(state): State<AppState>,
    _: Admin,
    Body(req): Body<DescriptorSource>,
) -> Result<Json<ApplicationDiff>, ApiError> {
    let live = state.live();
    let new = validate(&live, &req.source)?;
    let old = live
        .apps
        .get(&new.stored.name)
        .map(|a| a.servers.as_slice());
    Ok(Json(compare(&new.stored.name, old, &new.servers)))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Add,
    Update,
}

async fn commit(
    state: &AppState,
    source: &str,
    mode: Mode,
    path_name: Option<&str>,
) -> Result<ApplicationChanged, ApiError> {
    let _writer = state.writer().await;
    let (mut new, old_servers, serial) = {
        let live = state.live();
        let new = validate(&live, source)?;
        let name = new.stored.name.clone();
        if let Some(p) = path_name
            && p != name
        {
            return Err(ApiError::BadRequest(
                format!("the descriptor is named '{name}', not '{p}'"),
                Some(serde_json::json!({ "field": "name" })),
            ));
        }
        let old = live.apps.get(&name);
        match (mode, old) {
            (Mode::Add, Some(_)) => {
                return Err(ApiError::Conflict(format!(
                    "application '{name}' already exists; use update"
                )));
            }
            (Mode::Update, None) => return Err(unknown(&name)),
            _ => {}
        }
        (
            new,
            old.map(|o| (o.servers.clone(), o.stored.serial)),
            live.assignment_serial + 1,
        )
    };
    let name = new.stored.name.clone();
    let d = compare(
        &name,
        old_servers.as_ref().map(|(s, _)| s.as_slice()),
        &new.servers,
    );
    new.stored.serial = old_servers.as_ref().map_or(1, |(_, s)| s + 1);
    state
        .store()
        .put_application(&new.stored, &d.removed, serial)
        .await?;
    let nodes: BTreeSet<String> = new
        .servers
        .iter()
        .chain(old_servers.iter().flat_map(|(s, _)| s))
        .map(|s| s.node.clone())
        .collect();
    let app_serial = new.stored.serial;
    {
        let mut live = state.live();
        for id in &d.removed {
            live.flags.remove(id);
            live.runtime.remove(id);
        }
        live.apps.insert(name.clone(), new);
        live.assignment_serial = serial;
        live.reindex();
    }
    tracing::info!(application = %name, serial = app_serial, added = d.added.len(), changed = d.changed.len(),
        removed = d.removed.len(), "application {}", if mode == Mode::Add { "added" } else { "updated" });
    state.publish(match mode {
        Mode::Add => EventKind::ApplicationAdded {
            name: name.clone(),
            serial: app_serial,
        },
        Mode::Update => EventKind::ApplicationUpdated {
            name: name.clone(),
            serial: app_serial,
        },
    });
    node_link::push_assignments(state, nodes).await;
    Ok(ApplicationChanged {
        name,
        serial: app_serial,
        diff: d,
    })
}

/// `POST /v1/applications`.
pub(crate) async fn add(
    State(state): State<AppState>,
    _: Admin,
    Body(req): Body<DescriptorSource>,
) -> Result<Json<ApplicationChanged>, ApiError> {
    commit(&state, &req.source, Mode::Add, None).await.map(Json)
}

/// `PUT /v1/applications/{name}`.
pub(crate) async fn update(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
    Body(req): Body<DescriptorSource>,
) -> Result<Json<ApplicationChanged>, ApiError> {
    commit(&state, &req.source, Mode::Update, Some(&name))
        .await
        .map(Json)
}

/// `DELETE /v1/applications/{name}`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    _: Admin,
    Path(name): Path<String>,
) -> Result<Json<ApplicationChanged>, ApiError> {
    let _writer = state.writer().await;
    let (servers, serial) = {
        let live = state.live();
        let app = live.apps.get(&name).ok_or_else(|| unknown(&name))?;
        (app.servers.clone(), live.assignment_serial + 1)
    };
    let ids: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
    state
        .store()
        .remove_application(&name, &ids, serial)
        .await?;
    {
        let mut live = state.live();
        live.apps.remove(&name);
        for id in &ids {
            live.flags.remove(id);
            live.runtime.remove(id);
        }
        live.assignment_serial = serial;
        live.reindex();
    }
    tracing::info!(application = %name, servers = ids.len(), "application removed");
    state.publish(EventKind::ApplicationRemoved { name: name.clone() });
    node_link::push_assignments(&state, servers.iter().map(|s| s.node.clone()).collect()).await;
    let d = ApplicationDiff {
        name: name.clone(),
        exists: true,
        removed: ids,
        ..Default::default()
    };
    Ok(Json(ApplicationChanged {
        name,
        serial: 0,
        diff: d,
    }))
}
