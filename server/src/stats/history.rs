//! The last hour of every VM's and host's points at full resolution, in memory and bounded: a
//! ring per series of one hour's rounds, points kept in 48 bytes (f32 values), and a series
//! with nothing newer than an hour dropped. A 1,000-VM host at 5 s holds ~35 MB.

use std::collections::{HashMap, VecDeque};

use app::stats::{HostStatsPoint, VmStatsPoint};
use uuid::Uuid;

use super::sampler::Round;

/// One hour.
pub const WINDOW_SECS: i64 = 3_600;

/// A VM point in 48 bytes: the values as f32, NaN where libvirt said nothing.
#[derive(Debug, Clone, Copy)]
struct Compact {
    at: i64,
    values: [f32; 9],
}

fn pack(value: Option<f64>) -> f32 {
    value.map_or(f32::NAN, |v| v as f32)
}

fn unpack(value: f32) -> Option<f64> {
    (!value.is_nan()).then_some(f64::from(value))
}

impl Compact {
    fn of(point: &VmStatsPoint) -> Self {
        Self {
            at: point.at,
            values: [
                pack(point.cpu_percent),
                pack(point.memory_kib),
                pack(point.memory_used_kib),
                pack(point.disk_read_bps),
                pack(point.disk_write_bps),
                pack(point.disk_read_iops),
                pack(point.disk_write_iops),
                pack(point.net_rx_bps),
                pack(point.net_tx_bps),
            ],
        }
    }

    fn point(at: i64, values: [f32; 9]) -> VmStatsPoint {
        let [cpu, memory, used, read, write, read_ops, write_ops, rx, tx] = values.map(unpack);
        VmStatsPoint {
            at,
            cpu_percent: cpu,
            memory_kib: memory,
            memory_used_kib: used,
            disk_read_bps: read,
            disk_write_bps: write,
            disk_read_iops: read_ops,
            disk_write_iops: write_ops,
            net_rx_bps: rx,
            net_tx_bps: tx,
        }
    }
}

/// The mean of the values that are there, field by field.
fn mean<const N: usize>(rows: impl Iterator<Item = [Option<f64>; N]>) -> [Option<f64>; N] {
    let mut sums = [(0.0, 0u32); N];
    for row in rows {
        for (sum, value) in sums.iter_mut().zip(row) {
            if let Some(value) = value {
                sum.0 += value;
                sum.1 += 1;
            }
        }
    }
    sums.map(|(sum, count)| (count > 0).then(|| sum / f64::from(count)))
}

fn host_values(point: &HostStatsPoint) -> [Option<f64>; 5] {
    [
        point.cpu_percent,
        point.memory_total_kib,
        point.memory_used_kib,
        point.disk_free_bytes,
        point.disk_total_bytes,
    ]
}

pub struct History {
    /// Points per series: one hour of rounds.
    capacity: usize,
    vms: HashMap<Uuid, VecDeque<Compact>>,
    hosts: HashMap<String, VecDeque<HostStatsPoint>>,
}

impl History {
    pub fn new(period_secs: u64) -> Self {
        let period = usize::try_from(period_secs.max(1)).unwrap_or(1);
        Self {
            capacity: usize::try_from(WINDOW_SECS)
                .unwrap_or(3_600)
                .div_ceil(period)
                + 1,
            vms: HashMap::new(),
            hosts: HashMap::new(),
        }
    }

    /// Adds a round's points, and drops series with nothing in the last hour (VMs stopped or
    /// deleted more than an hour ago).
    pub fn push(&mut self, round: &Round) {
        for sample in &round.vms {
            let ring = self
                .vms
                .entry(sample.labels.uuid)
                .or_insert_with(|| VecDeque::with_capacity(self.capacity));
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(Compact::of(&sample.point));
        }
        if let Some(point) = round.host_point {
            let ring = self.hosts.entry(round.host.clone()).or_default();
            if ring.len() == self.capacity {
                ring.pop_front();
            }
            ring.push_back(point);
        }
        let horizon = round.at - WINDOW_SECS;
        self.vms
            .retain(|_, ring| ring.back().is_some_and(|newest| newest.at > horizon));
    }

    /// A VM's points at or after `from`, oldest first.
    pub fn vm_since(&self, vm: Uuid, from: i64) -> Vec<VmStatsPoint> {
        self.vms.get(&vm).map_or_else(Vec::new, |ring| {
            ring.iter()
                .filter(|point| point.at >= from)
                .map(|point| Compact::point(point.at, point.values))
                .collect()
        })
    }

    pub fn host_since(&self, host: &str, from: i64) -> Vec<HostStatsPoint> {
        self.hosts.get(host).map_or_else(Vec::new, |ring| {
            ring.iter()
                .filter(|point| point.at >= from)
                .copied()
                .collect()
        })
    }

    /// Every VM's mean over the minute starting at `minute` (unix seconds), for the VMs with
    /// points in it.
    pub fn vm_minute(&self, minute: i64) -> Vec<(Uuid, VmStatsPoint)> {
        let within = |at: i64| (minute..minute + 60).contains(&at);
        self.vms
            .iter()
            .filter_map(|(uuid, ring)| {
                let points = ring.iter().filter(|point| within(point.at));
                let mut any = false;
                let means = mean(points.map(|point| {
                    any = true;
                    point.values.map(unpack)
                }));
                any.then(|| (*uuid, Compact::point(minute, means.map(pack))))
            })
            .collect()
    }

    /// A host's mean over the minute starting at `minute`.
    pub fn host_minute(&self, host: &str, minute: i64) -> Option<HostStatsPoint> {
        let ring = self.hosts.get(host)?;
        let points: Vec<_> = ring
            .iter()
            .filter(|point| (minute..minute + 60).contains(&point.at))
            .collect();
        if points.is_empty() {
            return None;
        }
        let [cpu, total, used, free, size] = mean(points.iter().map(|point| host_values(point)));
        Some(HostStatsPoint {
            at: minute,
            cpu_percent: cpu,
            memory_total_kib: total,
            memory_used_kib: used,
            disk_free_bytes: free,
            disk_total_bytes: size,
        })
    }

    /// The memory the points take (their rings' allocations), in bytes.
    pub fn bytes(&self) -> usize {
        let vms: usize = self
            .vms
            .values()
            .map(|ring| ring.capacity() * std::mem::size_of::<Compact>())
            .sum();
        let hosts: usize = self
            .hosts
            .values()
            .map(|ring| ring.capacity() * std::mem::size_of::<HostStatsPoint>())
            .sum();
        vms + hosts
    }

    pub fn series(&self) -> usize {
        self.vms.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::stats::DomainCounters;
    use crate::stats::sampler::{VmLabels, VmSample};

    fn round(at: i64, vms: &[(Uuid, f64)]) -> Round {
        Round {
            host: "local".into(),
            at,
            vms: vms
                .iter()
                .map(|(uuid, cpu)| VmSample {
                    labels: VmLabels {
                        uuid: *uuid,
                        name: "vm".into(),
                        owner: None,
                        role: None,
                        vcpus: 1,
                        memory_mib: 1,
                    },
                    point: VmStatsPoint {
                        at,
                        cpu_percent: Some(*cpu),
                        memory_kib: Some(1024.0),
                        memory_used_kib: None,
                        disk_read_bps: None,
                        disk_write_bps: None,
                        disk_read_iops: None,
                        disk_write_iops: None,
                        net_rx_bps: None,
                        net_tx_bps: None,
                    },
                    counters: DomainCounters::default(),
                })
                .collect(),
            ..Round::default()
        }
    }

    #[test]
    fn an_hour_is_kept_and_no_more() {
        let vm = Uuid::new_v4();
        let mut history = History::new(5);
        for i in 0..1000 {
            history.push(&round(i * 5, &[(vm, 1.0)]));
        }
        let points = history.vm_since(vm, 0);
        assert_eq!(points.len(), 721, "one hour of 5 s rounds, both ends");
        assert_eq!(points.last().unwrap().at, 999 * 5);
        assert_eq!(points[0].memory_used_kib, None, "nothing stays nothing");
        assert!(history.bytes() <= 721 * 48 + 64 * 48);
    }

    #[test]
    fn minutes_average_what_is_there_and_old_series_go() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut history = History::new(5);
        history.push(&round(60, &[(a, 10.0), (b, 1.0)]));
        history.push(&round(65, &[(a, 20.0)]));
        history.push(&round(120, &[(a, 99.0)]));
        let mut minute = history.vm_minute(60);
        minute.sort_by_key(|(uuid, _)| *uuid != a);
        assert_eq!(minute[0].1.cpu_percent, Some(15.0));
        assert_eq!(minute[0].1.at, 60);
        assert_eq!(minute[0].1.memory_used_kib, None);
        assert_eq!(minute.len(), 2);
        // Two hours later, b has had nothing for more than an hour.
        history.push(&round(60 + 2 * WINDOW_SECS, &[(a, 1.0)]));
        assert_eq!(history.series(), 1);
        assert!(history.vm_since(b, 0).is_empty());
    }
}
