//! The registry's tests, one binary for the crate (link time): the real `gridregistry` on a free
//! port (`registry`, `config`, `metrics`), and its router in process (`routes`).

mod config;
mod console;
mod helper;
mod metrics;
mod registry;
mod routes;
