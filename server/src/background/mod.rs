//! Limen's background work, started in one place: [`start`], called by `limen serve` only
//! (building the state starts nothing, so `limen reconcile` or `limen user add` run beside a
//! server never monitor libvirt or write records behind it).
//!
//! - `monitor.rs`: per host, libvirt's events → observed state → the bus;
//! - `reconciler.rs`: a reconcile at start and every `LIMEN_RECONCILE_SECS`.
//!
//! The monitor also reads every VM's snapshots again every `LIMEN_SNAPSHOT_SWEEP_SECS`.

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
