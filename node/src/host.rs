//! Host facts and load, from sysinfo. Only memory is ever refreshed, to keep the node small.

use grid_proto::api::{HostInfo, Load};
use sysinfo::{MemoryRefreshKind, RefreshKind, System};

/// Static facts about this host.
pub fn host_info() -> HostInfo {
    HostInfo {
        hostname: System::host_name().unwrap_or_default(),
        os: System::long_os_version().unwrap_or_default(),
        kernel: System::kernel_version().unwrap_or_default(),
        arch: System::cpu_arch(),
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
    }
}

/// Samples the load average and memory use.
pub struct LoadSampler {
    sys: System,
}

impl Default for LoadSampler {
    fn default() -> Self {
        Self {
            sys: System::new_with_specifics(RefreshKind::nothing()),
        }
    }
}

impl LoadSampler {
    /// The current load.
    pub fn sample(&mut self) -> Load {
        self.sys
            .refresh_memory_specifics(MemoryRefreshKind::nothing().with_ram());
        let avg = System::load_average();
        Load {
            load1: avg.one,
            load5: avg.five,
            load15: avg.fifteen,
            memory_used: self.sys.used_memory(),
            memory_total: self.sys.total_memory(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_load_are_plausible() {
        let h = host_info();
        assert!(h.cpus >= 1);
        assert!(!h.arch.is_empty());
        let l = LoadSampler::default().sample();
        assert!(l.memory_total > 0 && l.memory_used <= l.memory_total);
    }
}
