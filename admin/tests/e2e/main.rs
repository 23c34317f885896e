//! End-to-end tests: the real `gridregistry`, `gridnode`s, servers and `gridadmin`, killed by pid.
//! One test binary for the crate keeps link time down.

mod cluster;
mod fake_node;
mod helper;
mod hosts;
mod icegrid;
mod live;
mod media;
mod servers;
