//! gridadmin's tests, one binary for the crate (link time): the CLI against a fake registry
//! (`cli`), and the real `gridregistry`, `gridnode`s, servers and `gridadmin` killed by pid.

mod cli;
mod clients;
mod cluster;
mod console;
mod fake_node;
mod hosts;
mod icegrid;
mod live;
mod logins;
mod media;
mod secrets;
mod servers;
mod tls;
mod tokens;
mod users;
mod watch;
