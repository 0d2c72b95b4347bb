//! The host machine itself, as its libvirt reports it: CPUs and memory (capacity), the CPU
//! time counters and memory use (`virNodeGetCPUStats`, `virNodeGetMemoryStats`, which the
//! `virt` crate does not wrap), and the free space of a local directory's filesystem.

use std::ffi::CStr;
use std::path::Path;
use std::sync::Arc;

use virt::connect::Connect;
use virt::sys;

use super::{Host, HostError};

/// The host's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCounters {
    pub cpus: u32,
    /// CPU time of all CPUs, in nanoseconds: busy (kernel + user) and idle (idle + iowait).
    pub cpu_busy_ns_total: u64,
    pub cpu_idle_ns_total: u64,
    pub memory_total_kib: u64,
    /// Total − free − buffers − page cache (`None` where the driver does not say).
    pub memory_used_kib: Option<u64>,
}

impl NodeCounters {
    /// The busy share of the CPU time between `before` and `self`, in percent; `None` when no
    /// time passed.
    pub fn cpu_percent_since(&self, before: &NodeCounters) -> Option<f64> {
        let busy = self
            .cpu_busy_ns_total
            .checked_sub(before.cpu_busy_ns_total)?;
        let idle = self
            .cpu_idle_ns_total
            .checked_sub(before.cpu_idle_ns_total)?;
        let all = busy + idle;
        (all > 0).then(|| busy as f64 * 100.0 / all as f64)
    }
}

/// Reads `(field, value)` pairs with one of libvirt's two-call node statistics functions
/// (count first, then the values).
fn node_params(
    conn: &Connect,
    read: unsafe extern "C" fn(
        sys::virConnectPtr,
        i32,
        *mut sys::_virNodeCPUStats,
        *mut i32,
        u32,
    ) -> i32,
) -> Result<Vec<(String, u64)>, HostError> {
    let failed = || {
        HostError::from_virt(
            "read the host's statistics",
            virt::error::Error::last_error(),
        )
    };
    let mut count = 0;
    // SAFETY: a live connection; a null array asks for the number of parameters.
    if unsafe { read(conn.as_ptr(), -1, std::ptr::null_mut(), &mut count, 0) } < 0 {
        return Err(failed());
    }
    let mut params = vec![
        sys::_virNodeCPUStats {
            field: [0; 80],
            value: 0
        };
        usize::try_from(count).unwrap_or(0)
    ];
    // SAFETY: `params` holds `count` entries for libvirt to fill.
    if unsafe { read(conn.as_ptr(), -1, params.as_mut_ptr(), &mut count, 0) } < 0 {
        return Err(failed());
    }
    params.truncate(usize::try_from(count).unwrap_or(0));
    Ok(params
        .iter()
        .map(|param| {
            // SAFETY: libvirt NUL-terminates the field name within its 80 characters.
            let field = unsafe { CStr::from_ptr(param.field.as_ptr()) };
            (field.to_string_lossy().into_owned(), param.value)
        })
        .collect())
}

/// `virNodeGetMemoryStats` has the same shape as `virNodeGetCPUStats` (a field name and an
/// unsigned value): one reader serves both.
unsafe extern "C" fn memory_stats(
    conn: sys::virConnectPtr,
    cell: i32,
    params: *mut sys::_virNodeCPUStats,
    count: *mut i32,
    flags: u32,
) -> i32 {
    // SAFETY: the two structs are laid out alike (`[c_char; 80]`, `c_ulonglong`); the caller's
    // pointers are passed on as they are.
    unsafe { sys::virNodeGetMemoryStats(conn, cell, params.cast(), count, flags) }
}

/// The counters from the two parameter lists (pure). libvirt reports CPU times in ns and
/// memory in KiB.
pub fn node_counters_from(
    cpus: u32,
    cpu: &[(String, u64)],
    memory: &[(String, u64)],
) -> NodeCounters {
    let value = |list: &[(String, u64)], name: &str| {
        list.iter()
            .find(|(field, _)| field == name)
            .map_or(0, |(_, value)| *value)
    };
    let idle = value(cpu, "idle");
    let busy = ["kernel", "user"]
        .iter()
        .map(|name| value(cpu, name))
        .sum::<u64>();
    let total = value(memory, "total");
    let unused = value(memory, "free") + value(memory, "buffers") + value(memory, "cached");
    NodeCounters {
        cpus,
        cpu_busy_ns_total: busy,
        cpu_idle_ns_total: idle + value(cpu, "iowait"),
        memory_total_kib: total,
        memory_used_kib: (total > 0).then(|| total.saturating_sub(unused)),
    }
}

fn read_node(conn: &Connect) -> Result<NodeCounters, HostError> {
    let info = conn
        .node_info()
        .map_err(|e| HostError::from_virt("read the host's CPUs and memory", e))?;
    let cpu = node_params(conn, sys::virNodeGetCPUStats)?;
    // Not every driver reports memory use (the test driver does not): the total is known.
    let memory = node_params(conn, memory_stats).unwrap_or_default();
    let mut counters = node_counters_from(info.cpus, &cpu, &memory);
    if counters.memory_total_kib == 0 {
        counters.memory_total_kib = info.memory;
    }
    Ok(counters)
}

impl Host {
    /// The host's CPUs, memory and CPU time now.
    pub async fn node_counters(self: &Arc<Self>) -> Result<NodeCounters, HostError> {
        self.call(read_node).await
    }
}

/// The free and total bytes of the filesystem holding `path` (as an unprivileged user may
/// use it); `None` if it cannot be read.
pub fn filesystem_space(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: an all-zero statvfs is valid; libc fills it for a NUL-terminated path.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    // On Linux (64-bit) these are all u64.
    let block: u64 = stat.f_frsize.max(1);
    Some((
        stat.f_bavail.saturating_mul(block),
        stat.f_blocks.saturating_mul(block),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, u64)]) -> Vec<(String, u64)> {
        list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn counters_and_cpu_share() {
        let before = node_counters_from(
            4,
            &pairs(&[
                ("kernel", 100),
                ("user", 300),
                ("idle", 1000),
                ("iowait", 0),
            ]),
            &pairs(&[
                ("total", 8000),
                ("free", 1000),
                ("buffers", 500),
                ("cached", 1500),
            ]),
        );
        assert_eq!(before.memory_used_kib, Some(5000));
        let after = NodeCounters {
            cpu_busy_ns_total: 400 + 250,
            cpu_idle_ns_total: 1000 + 750,
            ..before
        };
        assert_eq!(after.cpu_percent_since(&before), Some(25.0));
        assert_eq!(before.cpu_percent_since(&after), None, "counters went back");
        assert_eq!(before.cpu_percent_since(&before), None, "no time passed");
    }

    #[test]
    fn the_filesystem_of_a_directory_has_space() {
        let (free, total) = filesystem_space(Path::new("/")).unwrap();
        assert!(total > 0 && free <= total);
        assert_eq!(filesystem_space(Path::new("/no/such/dir")), None);
    }
}
