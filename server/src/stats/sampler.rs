//! One host's collection rounds → points: rates from the difference of libvirt's counters
//! between this round and the last (pure; the collector task feeds it).

use std::collections::HashMap;

use app::stats::{disk_is_low, Gauge, HostStatsPoint, VmStatsPoint};
use uuid::Uuid;

use crate::host::node::NodeCounters;
use crate::host::stats::{per_second, DomainCounters};

/// What Limen records about a VM that its points need: whose it is (who may see them), its
/// vCPUs (CPU % is of those), and the labels of its metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct VmLabels {
    pub uuid: Uuid,
    pub name: String,
    pub owner: Option<String>,
    pub role: Option<String>,
    pub vcpus: u32,
    pub memory_mib: u64,
}

/// A running VM's point of one round, with its labels.
#[derive(Debug, Clone)]
pub struct VmSample {
    pub labels: VmLabels,
    pub point: VmStatsPoint,
    /// The counters the point came from (the Prometheus series are the counters themselves).
    pub counters: DomainCounters,
}

/// Everything one round collected on a host.
#[derive(Debug, Clone, Default)]
pub struct Round {
    pub host: String,
    pub at: i64,
    /// The running VMs Limen manages, each with a point (the first round after a VM starts
    /// has no rates yet: its rate fields are `None`).
    pub vms: Vec<VmSample>,
    /// Every VM Limen manages on the host, running or not (capacity, metrics by state).
    pub managed: Vec<(VmLabels, bool)>,
    pub host_point: Option<HostStatsPoint>,
    pub node: Option<NodeCounters>,
}

impl Round {
    /// The cards' gauges of this round: CPU and memory use of every running VM.
    pub fn gauges(&self) -> Vec<(Uuid, Option<String>, Gauge)> {
        self.vms
            .iter()
            .map(|sample| {
                let memory = match (sample.point.memory_used_kib, sample.point.memory_kib) {
                    (Some(used), Some(all)) if all > 0.0 => Some(percent(used * 100.0 / all)),
                    _ => None,
                };
                (
                    sample.labels.uuid,
                    sample.labels.owner.clone(),
                    (sample.point.cpu_percent.map(percent), memory),
                )
            })
            .collect()
    }
}

fn percent(value: f64) -> u8 {
    value.round().clamp(0.0, 100.0) as u8
}

/// The last round's counters of one host, to take the next round's differences from.
#[derive(Debug, Default)]
pub struct Sampler {
    /// When each running VM was last read (unix seconds, fractional) and its counters.
    last: HashMap<Uuid, (f64, DomainCounters)>,
    last_node: Option<(f64, NodeCounters)>,
    /// The last round's second: each round gets a later one (points are keyed by it).
    last_at: i64,
}

impl Sampler {
    /// The round read at `now` (unix seconds, fractional). Domains Limen does not manage are
    /// left out; a VM that is not running has no point, and its last counters are forgotten, so
    /// the next start counts from zero (never a negative rate).
    pub fn round(
        &mut self,
        host: &str,
        now: f64,
        counters: Vec<DomainCounters>,
        node: Option<NodeCounters>,
        disk_space: Option<(u64, u64)>,
        managed: Vec<VmLabels>,
    ) -> Round {
        let at = (now as i64).max(self.last_at + 1);
        self.last_at = at;
        let by_uuid: HashMap<Uuid, DomainCounters> =
            counters.into_iter().map(|c| (c.uuid, c)).collect();
        let mut last = HashMap::with_capacity(self.last.len());
        let mut vms = Vec::new();
        let mut states = Vec::with_capacity(managed.len());
        for labels in managed {
            let Some(counters) = by_uuid.get(&labels.uuid).filter(|c| c.running) else {
                states.push((labels, false));
                continue;
            };
            let before = self.last.get(&labels.uuid);
            let point = vm_point(now, at, &labels, before, counters);
            last.insert(labels.uuid, (now, counters.clone()));
            vms.push(VmSample {
                labels: labels.clone(),
                point,
                counters: counters.clone(),
            });
            states.push((labels, true));
        }
        self.last = last;
        let host_point = node.map(|node| {
            let cpu = self
                .last_node
                .as_ref()
                .and_then(|(_, before)| node.cpu_percent_since(before));
            HostStatsPoint {
                at,
                cpu_percent: cpu,
                memory_total_kib: Some(node.memory_total_kib as f64),
                memory_used_kib: node.memory_used_kib.map(|kib| kib as f64),
                disk_free_bytes: disk_space.map(|(free, _)| free as f64),
                disk_total_bytes: disk_space.map(|(_, total)| total as f64),
            }
        });
        if let Some(node) = node {
            self.last_node = Some((now, node));
        }
        Round {
            host: host.to_string(),
            at,
            vms,
            managed: states,
            host_point,
            node,
        }
    }
}

/// A running VM's point: rates since `before` (none on its first round).
fn vm_point(
    now: f64,
    at: i64,
    labels: &VmLabels,
    before: Option<&(f64, DomainCounters)>,
    counters: &DomainCounters,
) -> VmStatsPoint {
    let rate = |read: fn(&DomainCounters) -> u64| {
        before.and_then(|(then, old)| per_second(read(old), read(counters), now - then))
    };
    let cpu_percent = before.and_then(|(then, old)| {
        let (old, new) = (old.cpu_ns_total?, counters.cpu_ns_total?);
        let seconds = (now - then) * f64::from(labels.vcpus.max(1));
        // ns per second of vCPU time → percent; a little over 100 is timing noise.
        per_second(old, new, seconds).map(|ns| (ns / 1e7).min(100.0))
    });
    VmStatsPoint {
        at,
        cpu_percent,
        memory_kib: counters.memory_kib.map(|kib| kib as f64),
        memory_used_kib: counters.memory_used_kib.map(|kib| kib as f64),
        disk_read_bps: rate(|c| c.disk_read_bytes_total),
        disk_write_bps: rate(|c| c.disk_write_bytes_total),
        disk_read_iops: rate(|c| c.disk_read_ops_total),
        disk_write_iops: rate(|c| c.disk_write_ops_total),
        net_rx_bps: rate(|c| c.net_rx_bytes_total),
        net_tx_bps: rate(|c| c.net_tx_bytes_total),
    }
}

/// The host's capacity from a round (`None` before the first round read the host).
pub fn capacity(round: &Round) -> Option<app::stats::HostCapacity> {
    let node = round.node?;
    let (mut vcpus, mut vcpus_running, mut memory, mut memory_running) = (0u32, 0u32, 0u64, 0u64);
    for (labels, running) in &round.managed {
        vcpus += labels.vcpus;
        memory += labels.memory_mib;
        if *running {
            vcpus_running += labels.vcpus;
            memory_running += labels.memory_mib;
        }
    }
    let host_memory_mib = node.memory_total_kib / 1024;
    let ratio = |allocated: f64, have: f64| if have > 0.0 { allocated / have } else { 0.0 };
    let point = round.host_point.as_ref();
    let free = point.and_then(|p| p.disk_free_bytes).unwrap_or(0.0) as u64;
    let total = point.and_then(|p| p.disk_total_bytes).unwrap_or(0.0) as u64;
    Some(app::stats::HostCapacity {
        host_cpus: node.cpus,
        host_memory_mib,
        vcpus_allocated: vcpus,
        vcpus_running,
        memory_allocated_mib: memory,
        memory_running_mib: memory_running,
        cpu_overcommit: ratio(f64::from(vcpus), f64::from(node.cpus)),
        memory_overcommit: ratio(memory as f64, host_memory_mib as f64),
        disk_free_bytes: free,
        disk_total_bytes: total,
        disk_low: total > 0 && disk_is_low(free, total),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(uuid: Uuid, vcpus: u32) -> VmLabels {
        VmLabels {
            uuid,
            name: "web-1".into(),
            owner: Some("alice".into()),
            role: None,
            vcpus,
            memory_mib: 512,
        }
    }

    fn running(uuid: Uuid, cpu_ns: u64, read: u64) -> DomainCounters {
        DomainCounters {
            uuid,
            running: true,
            cpu_ns_total: Some(cpu_ns),
            memory_kib: Some(1000),
            memory_used_kib: Some(250),
            disk_read_bytes_total: read,
            ..DomainCounters::default()
        }
    }

    #[test]
    fn rates_come_from_the_second_round_and_a_restart_is_never_negative() {
        let vm = Uuid::new_v4();
        let mut sampler = Sampler::default();
        let managed = || vec![labels(vm, 2)];
        let first = sampler.round(
            "local",
            100.0,
            vec![running(vm, 0, 0)],
            None,
            None,
            managed(),
        );
        assert_eq!(first.vms.len(), 1);
        assert_eq!(
            first.vms[0].point.cpu_percent, None,
            "no rate on the first round"
        );
        // 5 s later, 5 s of CPU time on 2 vCPUs: half of them.
        let second = sampler.round(
            "local",
            105.0,
            vec![running(vm, 5_000_000_000, 5000)],
            None,
            None,
            managed(),
        );
        let point = second.vms[0].point;
        assert_eq!(point.cpu_percent, Some(50.0));
        assert_eq!(point.disk_read_bps, Some(1000.0));
        assert_eq!(second.gauges()[0].2, (Some(50), Some(25)));
        assert_eq!(
            first.gauges()[0].2 .0,
            None,
            "CPU not known on the first round"
        );
        // Stopped: no point, counters forgotten.
        let mut stopped = running(vm, 0, 0);
        stopped.running = false;
        let third = sampler.round("local", 110.0, vec![stopped], None, None, managed());
        assert!(third.vms.is_empty());
        assert!(!third.managed[0].1);
        // Started again with smaller counters: a first round again, then small positive rates.
        // (Rounds read in the same second still get later ones.)
        let fourth = sampler.round(
            "local",
            115.0,
            vec![running(vm, 1_000, 10)],
            None,
            None,
            managed(),
        );
        assert_eq!(fourth.vms[0].point.cpu_percent, None);
        let fifth = sampler.round(
            "local",
            120.0,
            vec![running(vm, 1_000_000_000, 60)],
            None,
            None,
            managed(),
        );
        assert!(fifth.vms[0].point.cpu_percent.unwrap() > 0.0);
        assert_eq!(fifth.vms[0].point.disk_read_bps, Some(10.0));
    }

    #[test]
    fn domains_limen_does_not_manage_are_left_out() {
        let mut sampler = Sampler::default();
        let round = sampler.round(
            "local",
            1.0,
            vec![running(Uuid::new_v4(), 1, 1)],
            None,
            None,
            Vec::new(),
        );
        assert!(round.vms.is_empty() && round.managed.is_empty());
    }

    #[test]
    fn capacity_counts_allocated_and_running() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let node = NodeCounters {
            cpus: 4,
            memory_total_kib: 2048 * 1024,
            ..NodeCounters::default()
        };
        let mut sampler = Sampler::default();
        let round = sampler.round(
            "local",
            1.0,
            vec![running(a, 1, 1)],
            Some(node),
            Some((1 << 30, 100 << 30)),
            vec![labels(a, 2), labels(b, 4)],
        );
        let capacity = capacity(&round).unwrap();
        assert_eq!((capacity.vcpus_allocated, capacity.vcpus_running), (6, 2));
        assert_eq!(capacity.cpu_overcommit, 1.5);
        assert_eq!(capacity.memory_allocated_mib, 1024);
        assert_eq!(capacity.memory_overcommit, 0.5);
        assert!(capacity.disk_low);
    }
}
