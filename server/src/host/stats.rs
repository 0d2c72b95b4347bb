//! The resource counters of every domain of a host, read in one bulk libvirt call
//! (`virConnectGetAllDomainStats`), not one call per VM: what a collector turns into rates.
//!
//! The `virt` crate leaves the records of that call unread (and unfreed), so this module reads
//! libvirt's typed parameters itself and frees the list with `virDomainStatsRecordListFree`.
//! Everything past [`read_all`] is pure.

use std::ffi::CStr;
use std::sync::Arc;

use uuid::Uuid;
use virt::connect::Connect;
use virt::sys;

use super::{Host, HostError};

/// One typed parameter's value, as libvirt gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum StatValue {
    Int(i64),
    UInt(u64),
    Double(f64),
    Bool(bool),
    Text(String),
}

impl StatValue {
    fn as_u64(&self) -> Option<u64> {
        match *self {
            StatValue::Int(v) => u64::try_from(v).ok(),
            StatValue::UInt(v) => Some(v),
            StatValue::Double(v) if v >= 0.0 => Some(v as u64),
            _ => None,
        }
    }
}

/// A domain's counters at one moment. Counters (`*_total`) only grow while the domain runs and
/// start again from zero when it starts again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainCounters {
    pub uuid: Uuid,
    /// libvirt's `state.state` is running (1) or blocked (2).
    pub running: bool,
    /// CPU time used by the whole domain, in nanoseconds.
    pub cpu_ns_total: Option<u64>,
    /// Memory the guest has now (the balloon's current size), in KiB.
    pub memory_kib: Option<u64>,
    /// Memory the guest uses, where its balloon driver reports it (available − unused), in KiB.
    pub memory_used_kib: Option<u64>,
    pub disk_read_bytes_total: u64,
    pub disk_write_bytes_total: u64,
    pub disk_read_ops_total: u64,
    pub disk_write_ops_total: u64,
    pub net_rx_bytes_total: u64,
    pub net_tx_bytes_total: u64,
}

/// Reads one domain's counters from its typed parameters (pure). Disk and network counters are
/// summed over every disk (`block.N.*`) and every interface (`net.N.*`).
pub fn counters_from(uuid: Uuid, params: &[(String, StatValue)]) -> DomainCounters {
    let mut counters = DomainCounters {
        uuid,
        ..DomainCounters::default()
    };
    let (mut available, mut unused) = (None, None);
    for (field, value) in params {
        let Some(number) = value.as_u64() else {
            continue;
        };
        match field.as_str() {
            "state.state" => counters.running = matches!(number, 1 | 2),
            "cpu.time" => counters.cpu_ns_total = Some(number),
            "balloon.current" => counters.memory_kib = Some(number),
            "balloon.available" => available = Some(number),
            "balloon.unused" => unused = Some(number),
            _ => {
                let sum = match field.split_once('.') {
                    Some(("block", rest)) if indexed(rest, "rd.bytes") => {
                        &mut counters.disk_read_bytes_total
                    }
                    Some(("block", rest)) if indexed(rest, "wr.bytes") => {
                        &mut counters.disk_write_bytes_total
                    }
                    Some(("block", rest)) if indexed(rest, "rd.reqs") => {
                        &mut counters.disk_read_ops_total
                    }
                    Some(("block", rest)) if indexed(rest, "wr.reqs") => {
                        &mut counters.disk_write_ops_total
                    }
                    Some(("net", rest)) if indexed(rest, "rx.bytes") => {
                        &mut counters.net_rx_bytes_total
                    }
                    Some(("net", rest)) if indexed(rest, "tx.bytes") => {
                        &mut counters.net_tx_bytes_total
                    }
                    _ => continue,
                };
                *sum = sum.saturating_add(number);
            }
        }
    }
    counters.memory_used_kib = match (available, unused) {
        (Some(available), Some(unused)) => Some(available.saturating_sub(unused)),
        _ => None,
    };
    counters
}

/// Whether `rest` is `N.<name>` for a device index N (`0.rd.bytes`, not `count` or
/// `0.allocation`).
fn indexed(rest: &str, name: &str) -> bool {
    rest.split_once('.')
        .is_some_and(|(index, field)| field == name && index.parse::<u32>().is_ok())
}

/// The per-second rate of a counter read `before` and `now`, `seconds` apart; `None` when no
/// time passed or the counter went down (a disk or interface left the sum, or the domain
/// started again unseen): no rate is better than a negative one or a spike.
pub fn per_second(before: u64, now: u64, seconds: f64) -> Option<f64> {
    (seconds > 0.0 && now >= before).then(|| (now - before) as f64 / seconds)
}

/// The statistics groups Limen reads.
const GROUPS: u32 = sys::VIR_DOMAIN_STATS_STATE
    | sys::VIR_DOMAIN_STATS_CPU_TOTAL
    | sys::VIR_DOMAIN_STATS_BALLOON
    | sys::VIR_DOMAIN_STATS_INTERFACE
    | sys::VIR_DOMAIN_STATS_BLOCK;

/// One typed parameter, copied out of libvirt's memory.
///
/// # Safety
/// `param` points to a valid `virTypedParameter`, whose string (if any) is NUL-terminated.
unsafe fn read_param(param: &sys::virTypedParameter) -> Option<(String, StatValue)> {
    // SAFETY: `field` is a NUL-terminated array of VIR_TYPED_PARAM_FIELD_LENGTH characters.
    let field = unsafe { CStr::from_ptr(param.field.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let kind = u32::try_from(param.type_).ok()?;
    // SAFETY: the union member read is the one `type_` names.
    let value = unsafe {
        match kind {
            sys::VIR_TYPED_PARAM_INT => StatValue::Int(param.value.i.into()),
            sys::VIR_TYPED_PARAM_UINT => StatValue::UInt(param.value.ui.into()),
            sys::VIR_TYPED_PARAM_LLONG => StatValue::Int(param.value.l),
            sys::VIR_TYPED_PARAM_ULLONG => StatValue::UInt(param.value.ul),
            sys::VIR_TYPED_PARAM_DOUBLE => StatValue::Double(param.value.d),
            sys::VIR_TYPED_PARAM_BOOLEAN => StatValue::Bool(param.value.b != 0),
            sys::VIR_TYPED_PARAM_STRING if !param.value.s.is_null() => {
                StatValue::Text(CStr::from_ptr(param.value.s).to_string_lossy().into_owned())
            }
            _ => return None,
        }
    };
    Some((field, value))
}

/// Every domain's counters, from one `virConnectGetAllDomainStats` call.
fn read_all(conn: &Connect) -> Result<Vec<DomainCounters>, HostError> {
    let mut records: *mut sys::virDomainStatsRecordPtr = std::ptr::null_mut();
    // SAFETY: a live connection; libvirt allocates the NULL-terminated list into `records`.
    // NOWAIT: a domain busy with a long job (a migration, a snapshot) is reported without the
    // stats that would wait for it, rather than holding up the whole round.
    let flags = sys::VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;
    let count =
        unsafe { sys::virConnectGetAllDomainStats(conn.as_ptr(), GROUPS, &mut records, flags) };
    if count < 0 {
        return Err(HostError::from_virt(
            "read the VMs' statistics",
            virt::error::Error::last_error(),
        ));
    }
    let mut all = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    for index in 0..usize::try_from(count).unwrap_or(0) {
        // SAFETY: `records` holds `count` valid record pointers.
        let record = unsafe { &**records.add(index) };
        let mut bytes = [0u8; 16];
        // SAFETY: the record's domain is valid while the list lives; the buffer is
        // VIR_UUID_BUFLEN.
        if unsafe { sys::virDomainGetUUID(record.dom, bytes.as_mut_ptr()) } != 0 {
            continue;
        }
        let params = (0..usize::try_from(record.nparams).unwrap_or(0))
            // SAFETY: `params` holds `nparams` valid typed parameters.
            .filter_map(|i| unsafe { read_param(&*record.params.add(i)) })
            .collect::<Vec<_>>();
        all.push(counters_from(Uuid::from_bytes(bytes), &params));
    }
    if !records.is_null() {
        // SAFETY: the list libvirt allocated, freed once, after the last read of it.
        unsafe { sys::virDomainStatsRecordListFree(records) };
    }
    Ok(all)
}

impl Host {
    /// Every domain's counters now, in one libvirt call.
    pub async fn domain_counters(self: &Arc<Self>) -> Result<Vec<DomainCounters>, HostError> {
        self.call(read_all).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, StatValue)]) -> Vec<(String, StatValue)> {
        list.iter()
            .map(|(field, value)| (field.to_string(), value.clone()))
            .collect()
    }

    #[test]
    fn counters_are_read_and_summed_over_devices() {
        use StatValue::*;
        let uuid = Uuid::nil();
        let counters = counters_from(
            uuid,
            &params(&[
                ("state.state", Int(1)),
                ("cpu.time", UInt(5_000_000_000)),
                ("balloon.current", UInt(524_288)),
                ("balloon.available", UInt(500_000)),
                ("balloon.unused", UInt(300_000)),
                ("block.count", UInt(2)),
                ("block.0.name", Text("vda".into())),
                ("block.0.rd.bytes", UInt(1000)),
                ("block.1.rd.bytes", UInt(24)),
                ("block.0.wr.bytes", UInt(10)),
                ("block.0.rd.reqs", UInt(3)),
                ("block.0.wr.reqs", UInt(4)),
                ("block.0.allocation", UInt(999_999)),
                ("net.count", UInt(1)),
                ("net.0.rx.bytes", UInt(7)),
                ("net.0.tx.bytes", UInt(8)),
            ]),
        );
        assert_eq!(
            counters,
            DomainCounters {
                uuid,
                running: true,
                cpu_ns_total: Some(5_000_000_000),
                memory_kib: Some(524_288),
                memory_used_kib: Some(200_000),
                disk_read_bytes_total: 1024,
                disk_write_bytes_total: 10,
                disk_read_ops_total: 3,
                disk_write_ops_total: 4,
                net_rx_bytes_total: 7,
                net_tx_bytes_total: 8,
            }
        );
    }

    #[test]
    fn rates_never_go_negative_when_counters_start_again() {
        assert_eq!(per_second(1000, 3000, 2.0), Some(1000.0));
        assert_eq!(per_second(5000, 400, 2.0), None, "went down: no rate");
        assert_eq!(per_second(1, 2, 0.0), None);
    }

    #[test]
    fn a_stopped_domain_without_a_balloon_report_has_no_used_memory() {
        let counters = counters_from(
            Uuid::nil(),
            &params(&[
                ("state.state", StatValue::Int(5)),
                ("balloon.current", StatValue::UInt(1024)),
            ]),
        );
        assert!(!counters.running);
        assert_eq!(counters.memory_used_kib, None);
        assert_eq!(counters.cpu_ns_total, None);
    }
}
