//! Limen's background work, started in one place: [`start`], called by `limen serve` only
//! (building the state starts nothing, so `limen reconcile` or `limen user add` run beside a
//! server never monitor libvirt or write records behind it).
//!
//! - `monitor.rs`: per host, libvirt's events → observed state → the bus;
//! - `reconciler.rs`: a reconcile at start and every `LIMEN_RECONCILE_SECS`;
//! - `collector.rs`: per host, the resource statistics every `LIMEN_STATS_SECS`.
//!
//! The monitor also reads every VM's snapshots again every `LIMEN_SNAPSHOT_SWEEP_SECS`.

pub mod collector;
pub mod monitor;
pub mod reconciler;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::host::Host;
use crate::ops::Sagas;

/// Starts the monitor (and collector) of every host, now and for every host added later, and
/// the periodic reconciler, on the context's task tracker; they stop when `shutdown` is
/// cancelled (a host's also when it is removed).
pub fn start(sagas: &Sagas, periods: Periods, shutdown: &CancellationToken) {
    start_hosts(
        sagas,
        periods.snapshot_sweep_secs,
        Some((periods.stats_secs, periods.stats_retention_days)),
        shutdown,
    );
    let tasks = &sagas.context().tasks;
    // The decoy hash for unknown usernames, computed before the first login needs it.
    tasks.spawn_blocking(crate::auth::password::warm_up);
    tasks.spawn(reconciler::run(
        sagas.clone(),
        periods.reconcile_secs,
        shutdown.clone(),
    ));
}

/// How often the background work looks again, in seconds (0: never).
#[derive(Debug, Clone, Copy)]
pub struct Periods {
    /// A reconcile (after the one at start).
    pub reconcile_secs: u64,
    /// Every VM's snapshots read again (libvirt has no event for some snapshot changes).
    pub snapshot_sweep_secs: u64,
    /// A statistics round (0: no statistics).
    pub stats_secs: u64,
    /// How many days the per-minute statistics are kept.
    pub stats_retention_days: u32,
}

/// The monitors alone (what the in-process tests run beside the router: they reconcile when
/// they mean to).
pub fn start_monitors(sagas: &Sagas, snapshot_sweep_secs: u64, shutdown: &CancellationToken) {
    start_hosts(sagas, snapshot_sweep_secs, None, shutdown);
}

/// Each host's monitor and, with `stats` (seconds between rounds, days kept; no collector
/// when the seconds are 0), its statistics collector: for every host now and every host added.
fn start_hosts(
    sagas: &Sagas,
    snapshot_sweep_secs: u64,
    stats: Option<(u64, u32)>,
    shutdown: &CancellationToken,
) {
    let cx = sagas.context().clone();
    let sweep = (snapshot_sweep_secs > 0).then(|| Duration::from_secs(snapshot_sweep_secs));
    let stats = stats.filter(|(secs, _)| *secs > 0);
    let shutdown = shutdown.clone();
    let hosts = cx.hosts.clone();
    hosts.on_added(Arc::new(move |host: Arc<Host>| {
        // Stops at shutdown, or when this host is removed.
        let stop = shutdown.child_token();
        let retired = host.retired().clone();
        let stopping = stop.clone();
        cx.tasks.spawn(async move {
            tokio::select! {
                () = retired.cancelled() => stopping.cancel(),
                () = stopping.cancelled() => {}
            }
        });
        let signals = host.watch();
        cx.tasks.spawn(monitor::run(
            cx.clone(),
            Arc::clone(&host),
            signals,
            sweep,
            stop.clone(),
        ));
        if let Some((secs, retention_days)) = stats {
            cx.tasks.spawn(collector::run(
                cx.clone(),
                host,
                Duration::from_secs(secs),
                retention_days,
                stop,
            ));
        }
    }));
}
