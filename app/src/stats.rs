//! Resource statistics on the wire: the points of a VM's and of the host's graphs
//! (`GET /api/v1/vms/{uuid}/stats`, `GET /api/v1/host/stats`, and their live streams), the
//! host's capacity, and the small gauges of the dashboard's cards.
//!
//! Rates are per second, from the difference of libvirt's counters between two rounds; a
//! number libvirt did not report is `null`.

use serde::{Deserialize, Serialize};

/// How far back a graph looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum StatsRange {
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl StatsRange {
    pub const ALL: [StatsRange; 4] = [Self::Hour, Self::Day, Self::Week, Self::Month];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|range| range.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
        }
    }

    /// The range's length in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Self::Hour => 3_600,
            Self::Day => 86_400,
            Self::Week => 7 * 86_400,
            Self::Month => 30 * 86_400,
        }
    }

    /// The width of one point of the stored history (per-minute averages, averaged again over
    /// wider buckets for the long ranges so a graph has ~700–1,400 points).
    pub fn bucket_seconds(self) -> i64 {
        match self {
            Self::Hour | Self::Day => 60,
            Self::Week => 600,
            Self::Month => 3_600,
        }
    }
}

/// One point of a VM's graphs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VmStatsPoint {
    /// Unix seconds.
    pub at: i64,
    /// CPU time used over the interval, as a percent of the VM's vCPUs (0–100).
    #[cfg_attr(feature = "ssr", schema(required))]
    pub cpu_percent: Option<f64>,
    /// Memory the guest has (the balloon's current size), KiB.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub memory_kib: Option<f64>,
    /// Memory the guest uses, where its balloon driver reports it, KiB.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub memory_used_kib: Option<f64>,
    /// Bytes read from the VM's disks per second.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub disk_read_bps: Option<f64>,
    /// Bytes written to the VM's disks per second.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub disk_write_bps: Option<f64>,
    /// Disk reads per second.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub disk_read_iops: Option<f64>,
    /// Disk writes per second.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub disk_write_iops: Option<f64>,
    /// Bytes received by the VM's network interfaces per second.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub net_rx_bps: Option<f64>,
    /// Bytes sent by the VM's network interfaces per second.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub net_tx_bps: Option<f64>,
}

/// One point of the host's graphs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostStatsPoint {
    /// Unix seconds.
    pub at: i64,
    /// Busy CPU time over the interval, as a percent of all the host's CPUs.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub cpu_percent: Option<f64>,
    /// The host's memory, KiB.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub memory_total_kib: Option<f64>,
    /// Memory in use (total − free − buffers − page cache), KiB.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub memory_used_kib: Option<f64>,
    /// Free space of the data dir's filesystem (disks, ISOs, images live there).
    #[cfg_attr(feature = "ssr", schema(required))]
    pub disk_free_bytes: Option<f64>,
    /// Size of the data dir's filesystem.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub disk_total_bytes: Option<f64>,
}

/// `GET /api/v1/vms/{uuid}/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VmStats {
    pub range: StatsRange,
    /// The collection period (1h: every point) or the bucket the points average.
    pub step_secs: i64,
    /// Points before this moment (unix seconds) are the stored per-minute means: on the hour
    /// after a restart, those come before the points of the collection period.
    pub stored_until: i64,
    /// Oldest first.
    pub points: Vec<VmStatsPoint>,
}

/// `GET /api/v1/host/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostStats {
    pub range: StatsRange,
    /// The collection period (1h: every point) or the bucket the points average.
    pub step_secs: i64,
    /// Points before this moment (unix seconds) are the stored per-minute means: on the hour
    /// after a restart, those come before the points of the collection period.
    pub stored_until: i64,
    /// Oldest first.
    pub points: Vec<HostStatsPoint>,
    /// `null` while libvirt cannot be asked (the history is there all the same).
    #[cfg_attr(feature = "ssr", schema(required))]
    pub capacity: Option<HostCapacity>,
}

/// What the host has and what Limen's VMs are given of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct HostCapacity {
    /// The host's CPUs.
    pub host_cpus: u32,
    /// The host's memory, MiB.
    pub host_memory_mib: u64,
    /// vCPUs and memory of every VM Limen manages on the host, and of the running ones.
    pub vcpus_allocated: u32,
    /// vCPUs of the running VMs.
    pub vcpus_running: u32,
    /// Memory of every VM Limen manages on the host, MiB.
    pub memory_allocated_mib: u64,
    /// Memory of the running VMs, MiB.
    pub memory_running_mib: u64,
    /// Allocated ÷ the host's (above 1: overcommitted).
    pub cpu_overcommit: f64,
    /// Allocated memory ÷ the host's (above 1: overcommitted).
    pub memory_overcommit: f64,
    /// Free space of the data dir's filesystem, bytes.
    pub disk_free_bytes: u64,
    /// Size of the data dir's filesystem, bytes.
    pub disk_total_bytes: u64,
    /// The data dir's free space is below 10 % of its filesystem ([`LOW_DISK_PERCENT`]) or
    /// 5 GiB ([`LOW_DISK_BYTES`]).
    pub disk_low: bool,
}

/// The data dir's free space is low below this share of its filesystem…
pub const LOW_DISK_PERCENT: u64 = 10;
/// …or below this many bytes (5 GiB).
pub const LOW_DISK_BYTES: u64 = 5 << 30;

/// Whether `free` of `total` bytes is low.
pub fn disk_is_low(free: u64, total: u64) -> bool {
    free < LOW_DISK_BYTES || free.saturating_mul(100) < total.saturating_mul(LOW_DISK_PERCENT)
}

/// A card's gauges: CPU and memory in use, whole percent (`None`: not known yet — a VM's first
/// round — or, for memory, no balloon report). The event stream's `vm_gauges` sends
/// `{"<uuid>": [cpu|null, memory|null], …}` for the running VMs the viewer may see, once per
/// collection round.
pub type Gauge = (Option<u8>, Option<u8>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_round_trip() {
        for range in StatsRange::ALL {
            assert_eq!(StatsRange::parse(range.as_str()), Some(range));
            let json = serde_json::to_string(&range).unwrap();
            assert_eq!(json, format!("\"{}\"", range.as_str()));
        }
        assert_eq!(StatsRange::parse("2h"), None);
    }

    #[test]
    fn low_disk() {
        assert!(disk_is_low(1 << 30, 100 << 30), "1 GiB free");
        assert!(disk_is_low(90 << 30, 1000 << 30), "9 %");
        assert!(!disk_is_low(20 << 30, 100 << 30));
    }
}
