//! What the registry's end-to-end tests share: the real `gridregistry`, killed by pid when
//! dropped, and a node registration body.
#![allow(dead_code)] // each test binary uses its own part of this

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use grid_proto::api::{HostInfo, Load, NodeRegister, ServerRuntime};

/// A registry process, SIGKILLed by pid when dropped.
pub struct Registry {
    pub child: Child,
    pub url: String,
}

impl Registry {
    /// Waits for a spawned registry to write its bound address to `addr_file`.
    pub fn started(child: Child, addr_file: &Path) -> Self {
        let mut reg = Self {
            child,
            url: String::new(),
        };
        wait_until("the address file", Duration::from_secs(20), || {
            if let Ok(Some(status)) = reg.child.try_wait() {
                panic!("gridregistry exited before writing its address: {status}");
            }
            addr_file.exists()
        });
        reg.url = format!(
            "http://{}",
            std::fs::read_to_string(addr_file).unwrap().trim()
        );
        reg
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn register_body(servers: Vec<ServerRuntime>) -> NodeRegister {
    NodeRegister {
        endpoint: "http://127.0.0.1:9".into(),
        address: "127.0.0.1".into(),
        host: HostInfo {
            hostname: "h".into(),
            os: "Linux".into(),
            kernel: "6".into(),
            arch: "x86_64".into(),
            cpus: 2,
        },
        load: Load::default(),
        servers,
    }
}
