//! The latest statistics round as Prometheus series, named and labelled the way the libvirt
//! exporter names them (`libvirt_domain_*`, counters of CPU time, bytes and requests), so
//! existing Grafana dashboards apply; Limen's own labels `uuid`, `name`, `owner`, `role` come
//! beside the exporter's `domain`. The host's series are `limen_host_*`.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::sampler::{Round, VmSample};
use crate::host::stats::DomainCounters;

/// What one scrape shows: each host's latest round and how many VMs are in each state.
#[derive(Debug)]
pub struct Exported {
    pub rounds: Vec<Arc<Round>>,
    /// (state, count) of every VM Limen manages.
    pub vms_by_state: Vec<(String, i64)>,
}

type Labels = Vec<(&'static str, String)>;

fn vm_labels(sample: &VmSample) -> Labels {
    let labels = &sample.labels;
    vec![
        ("domain", labels.name.clone()),
        ("uuid", labels.uuid.to_string()),
        ("name", labels.name.clone()),
        ("owner", labels.owner.clone().unwrap_or_default()),
        ("role", labels.role.clone().unwrap_or_default()),
    ]
}

/// One series per running VM: (exporter name, help, counter or gauge, value).
#[allow(clippy::type_complexity)]
const VM_SERIES: &[(&str, &str, bool, fn(&VmSample) -> Option<f64>)] = &[
    (
        "libvirt_domain_info_cpu_time_seconds",
        "CPU time the domain used, in seconds",
        true,
        |s| s.counters.cpu_ns_total.map(|ns| ns as f64 / 1e9),
    ),
    (
        "libvirt_domain_info_virtual_cpus",
        "vCPUs the domain has",
        false,
        |s| Some(f64::from(s.labels.vcpus)),
    ),
    (
        "libvirt_domain_info_maximum_memory_bytes",
        "Memory the domain may have, in bytes",
        false,
        |s| Some(s.labels.memory_mib as f64 * 1_048_576.0),
    ),
    (
        "libvirt_domain_info_memory_usage_bytes",
        "Memory the domain has now (its balloon), in bytes",
        false,
        |s| s.counters.memory_kib.map(|kib| kib as f64 * 1024.0),
    ),
    (
        "libvirt_domain_memory_stats_used_bytes",
        "Memory the guest uses, where its balloon driver reports it, in bytes",
        false,
        |s| s.counters.memory_used_kib.map(|kib| kib as f64 * 1024.0),
    ),
    (
        "libvirt_domain_block_stats_read_bytes",
        "Bytes read from the domain's disks",
        true,
        |s| total(&s.counters, |c| c.disk_read_bytes_total),
    ),
    (
        "libvirt_domain_block_stats_write_bytes",
        "Bytes written to the domain's disks",
        true,
        |s| total(&s.counters, |c| c.disk_write_bytes_total),
    ),
    (
        "libvirt_domain_block_stats_read_requests",
        "Read requests to the domain's disks",
        true,
        |s| total(&s.counters, |c| c.disk_read_ops_total),
    ),
    (
        "libvirt_domain_block_stats_write_requests",
        "Write requests to the domain's disks",
        true,
        |s| total(&s.counters, |c| c.disk_write_ops_total),
    ),
    (
        "libvirt_domain_interface_stats_receive_bytes",
        "Bytes the domain's network interfaces received",
        true,
        |s| total(&s.counters, |c| c.net_rx_bytes_total),
    ),
    (
        "libvirt_domain_interface_stats_transmit_bytes",
        "Bytes the domain's network interfaces sent",
        true,
        |s| total(&s.counters, |c| c.net_tx_bytes_total),
    ),
];

fn total(counters: &DomainCounters, read: fn(&DomainCounters) -> u64) -> Option<f64> {
    Some(read(counters) as f64)
}

/// The host's series: (name, help, value).
#[allow(clippy::type_complexity)]
const HOST_SERIES: &[(&str, &str, fn(&Round) -> Option<f64>)] = &[
    (
        "limen_host_cpu_usage_ratio",
        "Busy share of the host's CPUs over the last round (0–1)",
        |r| r.host_point?.cpu_percent.map(|p| p / 100.0),
    ),
    ("limen_host_cpus", "CPUs the host has", |r| {
        r.node.map(|n| f64::from(n.cpus))
    }),
    (
        "limen_host_memory_total_bytes",
        "Memory the host has, in bytes",
        |r| r.node.map(|n| n.memory_total_kib as f64 * 1024.0),
    ),
    (
        "limen_host_memory_used_bytes",
        "Memory in use on the host (not free, buffers or page cache), in bytes",
        |r| r.node?.memory_used_kib.map(|kib| kib as f64 * 1024.0),
    ),
    (
        "limen_data_dir_free_bytes",
        "Free space of the data dir's filesystem, in bytes",
        |r| r.host_point?.disk_free_bytes,
    ),
    (
        "limen_data_dir_size_bytes",
        "Size of the data dir's filesystem, in bytes",
        |r| r.host_point?.disk_total_bytes,
    ),
];

/// A family's series: its labels and value (a family with none is not written at all).
type Series = Vec<(Labels, f64)>;

fn write(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    series: Series,
) -> Result<(), std::fmt::Error> {
    if series.is_empty() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in series {
        let metric = family.encode_family(&labels)?;
        if kind == MetricType::Counter {
            ConstCounter::new(value).encode(metric)?;
        } else {
            ConstGauge::new(value).encode(metric)?;
        }
    }
    Ok(())
}

impl Collector for Exported {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let by_state = self
            .vms_by_state
            .iter()
            .map(|(state, count)| (vec![("state", state.clone())], *count as f64))
            .collect();
        write(
            &mut encoder,
            "limen_vms",
            "VMs Limen manages, by state",
            MetricType::Gauge,
            by_state,
        )?;
        for (name, help, counter, value) in VM_SERIES {
            let kind = if *counter {
                MetricType::Counter
            } else {
                MetricType::Gauge
            };
            let series = self
                .rounds
                .iter()
                .flat_map(|round| &round.vms)
                .filter_map(|sample| Some((vm_labels(sample), value(sample)?)))
                .collect();
            write(&mut encoder, name, help, kind, series)?;
        }
        for (name, help, value) in HOST_SERIES {
            let series = self
                .rounds
                .iter()
                .filter_map(|round| Some((vec![("host", round.host.clone())], value(round)?)))
                .collect();
            write(&mut encoder, name, help, MetricType::Gauge, series)?;
        }
        Ok(())
    }
}
