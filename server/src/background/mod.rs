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

use crate::ops::Sagas;

/// Starts the monitor of every host and the periodic reconciler on the context's task tracker;
/// they stop when `shutdown` is cancelled.
pub fn start(sagas: &Sagas, periods: Periods, shutdown: &CancellationToken) {
    start_monitors(sagas, periods.snapshot_sweep_secs, shutdown);
    start_collectors(
        sagas,
        periods.stats_secs,
        periods.stats_retention_days,
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
    let cx = sagas.context();
    let sweep = (snapshot_sweep_secs > 0).then(|| Duration::from_secs(snapshot_sweep_secs));
    for host in cx.hosts.iter() {
        let signals = host.watch();
        cx.tasks.spawn(monitor::run(
            cx.clone(),
            Arc::clone(host),
            signals,
            sweep,
            shutdown.clone(),
        ));
    }
}

/// The statistics collector of every host (none when `stats_secs` is 0).
pub fn start_collectors(
    sagas: &Sagas,
    stats_secs: u64,
    retention_days: u32,
    shutdown: &CancellationToken,
) {
    if stats_secs == 0 {
        return;
    }
    let cx = sagas.context();
    for host in cx.hosts.iter() {
        cx.tasks.spawn(collector::run(
            cx.clone(),
            Arc::clone(host),
            Duration::from_secs(stats_secs),
            retention_days,
            shutdown.clone(),
        ));
    }
}
