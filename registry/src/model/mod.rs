//! The registry's state and the operations that keep its invariants.
//!
//! [`Model`] is the one owner of the deployed applications, their derived index, the persisted
//! flags, the nodes, the servers' runtime and the event stream. Every durable change is one
//! method (deploy, update or remove an application, change a server's flags) that validates,
//! writes the store, updates the live view and publishes its event; readers see the model
//! through [`Model::view`], which hands out no way to mutate it.
//!
//! One `std::sync::Mutex` guards the live view; it is never held across an `.await`. Durable
//! changes are also serialised by an async writer lock, held until their nodes have the new
//! server sets, so nodes receive them in serial order.

mod deploy;
mod error;
mod events;
mod handle;
mod index;
mod live;
mod locate;
mod nodes;
mod servers;
mod views;

pub use error::ModelError;
pub use handle::{Model, Push};
pub use live::{Live, View};
pub use locate::{Located, OnDemand};

#[cfg(test)]
mod tests;
