//! The locator: adapter id or replica-group id → live endpoints, ordered by the group's policy.
//! Locating an on-demand server's adapter starts the server and waits until it is active.

use axum::Json;
use axum::extract::{Path, State};
use grid_proto::api::{AdapterView, LocateReply, LocatedEndpoint};
use grid_proto::descriptor::{Activation, LoadBalancing};
use grid_proto::paths;
use rand::seq::SliceRandom;
use std::time::Instant;

use super::error::ApiError;
use crate::metrics::LocateResult;
use crate::model::Live;
use crate::node_link;
use crate::state::AppState;

/// Every adapter with its current endpoint. Open, like `locate`: clients (media-control) find
/// the renders with it and hold no admin session.
pub(crate) async fn adapters(State(state): State<AppState>) -> Json<Vec<AdapterView>> {
    Json(state.live().adapter_views())
}

enum Target {
    Adapter,
    Group,
}

/// Resolves `id` now; `None` when the id is unknown.
fn resolve(live: &mut Live, id: &str) -> Option<(Target, Vec<LocatedEndpoint>)> {
    if live.index.adapters.contains_key(id) {
        let eps = live
            .live_endpoint(id)
            .map(|(server, endpoint)| LocatedEndpoint {
                adapter: id.to_owned(),
                server,
                endpoint,
            })
            .into_iter()
            .collect();
        return Some((Target::Adapter, eps));
    }
    let (group, members) = live.index.groups.get(id)?;
    let (policy, limit) = (group.load_balancing, group.n_replicas);
    let mut eps: Vec<(LocatedEndpoint, f64)> = members
        .iter()
        .filter_map(|a| {
            let (server, endpoint) = live.live_endpoint(a)?;
            let load = live
                .index
                .servers
                .get(&server)
                .and_then(|s| live.nodes.get(&s.node))
                .map_or(f64::MAX, |n| n.load.load1 / n.host.cpus.max(1) as f64);
            Some((
                LocatedEndpoint {
                    adapter: a.clone(),
                    server,
                    endpoint,
                },
                load,
            ))
        })
        .collect();
    match policy {
        LoadBalancing::Ordered => {}
        LoadBalancing::Random => eps.shuffle(&mut rand::rng()),
        LoadBalancing::RoundRobin => {
            let cursor = live.cursors.entry(id.to_owned()).or_insert(0);
            if !eps.is_empty() {
                let k = *cursor % eps.len();
                eps.rotate_left(k);
            }
            *cursor = cursor.wrapping_add(1);
        }
        LoadBalancing::Adaptive => eps.sort_by(|a, b| a.1.total_cmp(&b.1)),
    }
    let mut eps: Vec<LocatedEndpoint> = eps.into_iter().map(|(e, _)| e).collect();
    if limit > 0 {
        eps.truncate(limit);
    }
    Some((Target::Group, eps))
}

/// The on-demand server to start for `id`, if any can be.
fn on_demand_candidate(live: &Live, id: &str, target: &Target) -> Option<(String, String, u64)> {
    let adapters: Vec<&String> = match target {
        Target::Adapter => vec![live.index.adapters.get_key_value(id)?.0],
        Target::Group => live.index.groups.get(id)?.1.iter().collect(),
    };
    adapters.into_iter().find_map(|a| {
        let s = live
            .index
            .servers
            .get(&live.index.adapters.get(a)?.server)?;
        let f = live.flags_of(&s.id);
        (s.activation == Activation::OnDemand && f.enabled && !f.stopped && live.node_up(&s.node))
            .then(|| (s.id.clone(), s.node.clone(), s.activation_timeout_ms))
    })
}

/// `GET /v1/locate/{id}`, counted and timed by result.
pub(crate) async fn locate(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LocateReply>, ApiError> {
    let started = Instant::now();
    let reply = answer(&state, id).await;
    let result = match &reply {
        Ok(r) if r.endpoints.is_empty() => LocateResult::Empty,
        Ok(_) => LocateResult::Found,
        Err(ApiError::NotFound(_)) => LocateResult::Unknown,
        Err(_) => LocateResult::Failed,
    };
    state.metrics().locate(result, started.elapsed());
    reply
}

async fn answer(state: &AppState, id: String) -> Result<Json<LocateReply>, ApiError> {
    let unknown = || ApiError::NotFound(format!("unknown adapter or replica group '{id}'"));
    let (target, endpoints, candidate) = {
        let mut live = state.live();
        let (target, eps) = resolve(&mut live, &id).ok_or_else(unknown)?;
        let candidate = if eps.is_empty() {
            on_demand_candidate(&live, &id, &target)
        } else {
            None
        };
        (target, eps, candidate)
    };
    let kind = match target {
        Target::Adapter => "adapter",
        Target::Group => "replica-group",
    };
    if let Some((server, node, timeout_ms)) = candidate {
        tracing::info!(server = %server, locate = %id, "activating on-demand server");
        let path = paths::fill(paths::NODE_SERVER_ACTION, &[&server, "start"]);
        let _ = node_link::call_node(state, &node, &path, &serde_json::json!({})).await?;
        let ok = state
            .wait_for(std::time::Duration::from_millis(timeout_ms), |live| {
                live.live_endpoint_of_server(&server)
            })
            .await;
        if !ok {
            return Err(ApiError::Unavailable(format!(
                "on-demand server '{server}' did not become active in time"
            )));
        }
        let mut live = state.live();
        let (_, endpoints) = resolve(&mut live, &id).ok_or_else(unknown)?;
        return Ok(Json(LocateReply {
            id,
            kind: kind.to_owned(),
            endpoints,
        }));
    }
    Ok(Json(LocateReply {
        id,
        kind: kind.to_owned(),
        endpoints,
    }))
}
