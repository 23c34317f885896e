//! Durable application changes: add, update, remove, and the dry-run diff.
//!
//! A change is validated in full first (parse, expand, no id shared with another application),
//! then committed to the store in one transaction, then applied to the live view, then
//! published. A rejected descriptor changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use grid_proto::api::{ApplicationChanged, ApplicationDiff, EventKind};
use grid_proto::descriptor::ServerDescriptor;

use super::error::ModelError;
use super::handle::{Model, Push};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Add,
    Update,
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

impl Model {
    /// What deploying `source` would change, without changing anything.
    pub fn diff(&self, source: &str) -> Result<ApplicationDiff, ModelError> {
        let live = self.live();
        let new = live.validate(source)?;
        let old = live
            .apps
            .get(&new.stored.name)
            .map(|a| a.servers.as_slice());
        Ok(compare(&new.stored.name, old, &new.servers))
    }

    /// Deploys a new application.
    pub async fn add_application(
        &self,
        source: &str,
    ) -> Result<(ApplicationChanged, Push), ModelError> {
        self.commit(source, Mode::Add, None).await
    }

    /// Replaces the application named `name` with `source`, which must carry that name.
    pub async fn update_application(
        &self,
        name: &str,
        source: &str,
    ) -> Result<(ApplicationChanged, Push), ModelError> {
        self.commit(source, Mode::Update, Some(name)).await
    }

    async fn commit(
        &self,
        source: &str,
        mode: Mode,
        path_name: Option<&str>,
    ) -> Result<(ApplicationChanged, Push), ModelError> {
        let writer = self.writer().await;
        let (mut new, old_servers, serial) = {
            let live = self.live();
            let new = live.validate(source)?;
            let name = new.stored.name.clone();
            if let Some(p) = path_name
                && p != name
            {
                return Err(ModelError::NameMismatch {
                    named: name,
                    path: p.to_owned(),
                });
            }
            let old = live.apps.get(&name);
            match (mode, old) {
                (Mode::Add, Some(_)) => return Err(ModelError::AppExists(name)),
                (Mode::Update, None) => return Err(ModelError::UnknownApp(name)),
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
        self.store()
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
            let mut live = self.live();
            live.forget_servers(&d.removed);
            live.apps.insert(name.clone(), new);
            live.assignment_serial = serial;
            live.reindex();
        }
        tracing::info!(application = %name, serial = app_serial, added = d.added.len(), changed = d.changed.len(),
            removed = d.removed.len(), "application {}", if mode == Mode::Add { "added" } else { "updated" });
        self.publish(match mode {
            Mode::Add => EventKind::ApplicationAdded {
                name: name.clone(),
                serial: app_serial,
            },
            Mode::Update => EventKind::ApplicationUpdated {
                name: name.clone(),
                serial: app_serial,
            },
        });
        let changed = ApplicationChanged {
            name,
            serial: app_serial,
            diff: d,
        };
        Ok((changed, Push::new(nodes, writer)))
    }

    /// Removes an application, its servers and their flags.
    pub async fn remove_application(
        &self,
        name: &str,
    ) -> Result<(ApplicationChanged, Push), ModelError> {
        let writer = self.writer().await;
        let (servers, serial) = {
            let live = self.live();
            let app = live
                .apps
                .get(name)
                .ok_or_else(|| ModelError::UnknownApp(name.to_owned()))?;
            (app.servers.clone(), live.assignment_serial + 1)
        };
        let ids: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
        self.store().remove_application(name, &ids, serial).await?;
        {
            let mut live = self.live();
            live.apps.remove(name);
            live.forget_servers(&ids);
            live.assignment_serial = serial;
            live.reindex();
        }
        tracing::info!(application = %name, servers = ids.len(), "application removed");
        self.publish(EventKind::ApplicationRemoved {
            name: name.to_owned(),
        });
        let nodes = servers.iter().map(|s| s.node.clone()).collect();
        let changed = ApplicationChanged {
            name: name.to_owned(),
            serial: 0,
            diff: ApplicationDiff {
                name: name.to_owned(),
                exists: true,
                removed: ids,
                ..Default::default()
            },
        };
        Ok((changed, Push::new(nodes, writer)))
    }
}
