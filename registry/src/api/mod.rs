//! The registry's HTTP API: one module per resource, one router.

mod applications;
mod audit;
pub mod error;
mod events;
pub(crate) mod extract;
mod gateway;
mod limits;
mod locator;
mod metrics;
mod nodes;
mod read;
mod servers;
pub(crate) mod sessions;
pub(crate) mod users;

use axum::Router;
use axum::routing::{any, delete, get, post, put};
use grid_proto::api::{ApplicationDetail, ApplicationSummary, NodeView, ServerDetail, ServerView};
use grid_proto::paths;

use crate::state::AppState;

/// The whole API; tests drive it without a socket.
pub fn app(state: AppState) -> Router {
    let max_body = state.settings().max_body;
    Router::new()
        .route(paths::SESSIONS, post(sessions::login).get(sessions::list))
        .route(paths::SESSION, delete(sessions::revoke))
        .route(paths::WHOAMI, get(sessions::whoami))
        .route(paths::USERS, get(users::list).post(users::add))
        .route(paths::USER, delete(users::remove))
        .route(paths::USER_PASSWORD, put(users::password))
        .route(paths::USER_ROLE, put(users::role))
        .route(paths::AUDIT, get(audit::read))
        .route(paths::REGISTRY, get(sessions::registry_info))
        .route(
            paths::APPLICATIONS,
            get(read::list::<ApplicationSummary>).post(applications::add),
        )
        .route(paths::APPLICATIONS_DIFF, post(applications::diff))
        .route(
            paths::APPLICATION,
            get(read::one::<ApplicationDetail>)
                .put(applications::update)
                .delete(applications::remove),
        )
        .route(paths::SERVERS, get(read::list::<ServerView>))
        .route(paths::SERVER, get(read::one::<ServerDetail>))
        .route(paths::SERVER_LOG, get(servers::log))
        .route(paths::SERVER_ACTION, post(servers::action))
        .route(paths::NODES, get(read::list::<NodeView>))
        .route(paths::NODE, get(read::one::<NodeView>))
        .route(paths::NODE_REGISTER, post(nodes::register))
        .route(paths::NODE_HEARTBEAT, post(nodes::heartbeat))
        .route(paths::NODE_CERTIFICATE, post(nodes::certificate))
        .route(paths::NODE_SERVER_STATE, post(nodes::server_state))
        .route(paths::NODE_SERVER_EVENT_FORWARD, post(nodes::server_event))
        .route(paths::NODE_ACTION, post(nodes::action))
        .route(paths::ADAPTERS, get(locator::adapters))
        .route(paths::LOCATE, get(locator::locate))
        .route(paths::GATEWAY, any(gateway::forward))
        .route(paths::EVENTS, get(events::stream))
        .route(paths::METRICS, get(metrics::scrape))
        .merge(crate::console::routes())
        .fallback(|| async { error::ApiError::NotFound("no such route".into()) })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::record,
        ))
        .layer(axum::middleware::from_fn_with_state(max_body, limits::body))
        .layer(axum::extract::DefaultBodyLimit::max(max_body))
        .with_state(state)
}
