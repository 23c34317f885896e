//! The render's tests, one binary for the crate (link time): against real MediaServers
//! (`render`, `metrics`) and on a live channel of fake ones (`channel`).

mod channel;
mod fake;
mod helper;
mod metrics;
mod render;
