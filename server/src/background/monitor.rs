//! The monitor of one host: reads its signals (libvirt events, connection loss) and keeps the
//! database and every open stream in step with what libvirt reports, through the writer of
//! observed state. One per host, so a host that is slow or gone never holds up another.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::db::vms as q;
use crate::error::chain;
use crate::host::events::HostSignal;
use crate::host::snapshots::SnapshotNames;
use crate::host::{Host, HostError};
use crate::live::VmChange;
use crate::observed;
use uuid::Uuid;

/// Reconnect delays after the connection to libvirt is lost: quick at first, then every 5 s.
const BACKOFF: [Duration; 5] = [
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(5),
];

/// Runs until `shutdown`; first brings the view and the records in step with libvirt.
/// `snapshot_sweep`: how often every VM's snapshots are read again (`None`: never).
pub async fn run(
    cx: Context,
    host: Arc<Host>,
    mut signals: UnboundedReceiver<HostSignal>,
    snapshot_sweep: Option<Duration>,
    shutdown: CancellationToken,
) {
    crate::metrics::libvirt_watched(host.key().as_str());
    match cx.db.run(q::vm_max_generation).await {
        Ok(recorded) => host
            .live()
            .seed_generation(u64::try_from(recorded).unwrap_or(0)),
        Err(error) => {
            tracing::warn!(error = %chain(&error), "could not read the newest status generation")
        }
    }
    resynchronize(&cx, &host, &shutdown).await;
    // Domains whose definition may have changed, read again once no state change is waiting:
    // a state event must never queue behind a definition read (which waits for libvirt's
    // job on the domain), and a burst of them reads each definition once. After a (re)connection
    // every one is: a change made meanwhile came with no event.
    let mut settings_due: BTreeSet<Uuid> = records_on(&cx, &host).await;
    // Snapshots are read the same way, on every sweep (and after a (re)connection): libvirt
    // sends no event of its own when a snapshot is made or deleted outside Limen, and Limen's
    // own changes are published by the service. Not after state events: the monitor stays
    // quick to follow those.
    let mut snapshots_due: BTreeSet<Uuid> = settings_due.clone();
    let mut snapshots_known: HashMap<Uuid, SnapshotNames> = HashMap::new();
    let mut sweep = snapshot_sweep.map(|every| {
        let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        timer
    });
    loop {
        let signal = match signals.try_recv() {
            Ok(signal) => Some(signal),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => {
                if let Some(uuid) = settings_due.pop_first() {
                    record_settings(&cx, &host, uuid).await;
                    continue;
                }
                if let Some(uuid) = snapshots_due.pop_first() {
                    record_snapshots(&cx, &host, uuid, &mut snapshots_known).await;
                    continue;
                }
                let swept = async {
                    match sweep.as_mut() {
                        Some(timer) => drop(timer.tick().await),
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    signal = signals.recv() => signal,
                    () = swept => {
                        snapshots_due.extend(records_on(&cx, &host).await);
                        continue;
                    }
                }
            }
        };
        if shutdown.is_cancelled() {
            return;
        }
        match signal {
            None => return,
            Some(HostSignal::DomainChanged { uuid, reported, .. }) => {
                tracing::debug!(host = %host.key(), %uuid, ?reported, "domain event");
                let from_event =
                    reported.and_then(|status| host.live().apply_reported(uuid, status));
                let observation = match from_event {
                    Some(observation) => Ok(observation),
                    None => host.observe(uuid).await,
                };
                match observation {
                    Ok(observation) => observed::record(&cx, observation).await,
                    Err(error) => {
                        tracing::warn!(host = %host.key(), %uuid, error = %chain(&error), "could not read a domain after its event");
                    }
                }
            }
            Some(HostSignal::SettingsChanged { uuid, .. }) => {
                settings_due.insert(uuid);
            }
            Some(HostSignal::ConnectionClosed { .. }) => {
                tracing::warn!(host = %host.key(), "the libvirt connection closed; reconnecting");
                host.live().mark_unsynced();
                resynchronize(&cx, &host, &shutdown).await;
                crate::metrics::libvirt_reconnected(host.key().as_str());
                settings_due.extend(records_on(&cx, &host).await);
                snapshots_due.extend(settings_due.iter().copied());
            }
            Some(HostSignal::Resynced { .. }) => {
                match observed::records_follow_view(&cx, host.key()).await {
                    Ok(_) => {
                        cx.bus.publish(VmChange::Resync);
                    }
                    Err(error) => {
                        tracing::warn!(host = %host.key(), error = %chain(&error), "could not bring the records in step");
                    }
                }
            }
        }
    }
}

/// The VMs recorded on `host` (none if the database does not answer: the next event or
/// reconnection tries again).
async fn records_on(cx: &Context, host: &Host) -> BTreeSet<Uuid> {
    match cx.db.run(q::vm_list).await {
        Ok(rows) => rows
            .into_iter()
            .filter(|row| row.host == host.key().as_str())
            .map(|row| row.uuid)
            .collect(),
        Err(error) => {
            tracing::warn!(host = %host.key(), error = %chain(&error), "could not list the records to read their settings");
            BTreeSet::new()
        }
    }
}

/// Reads a domain's boot order and media again and records them if they changed.
async fn record_settings(cx: &Context, host: &Arc<Host>, uuid: Uuid) {
    match observed::record_settings(cx, host, uuid).await {
        Ok(_) | Err(observed::ObservedError::Host(HostError::NoDomain)) => {}
        Err(error) => {
            tracing::warn!(host = %host.key(), %uuid, error = %chain(&error), "could not read a domain's settings after its event");
        }
    }
}

/// Reads a domain's snapshots again and publishes them if they changed since the last read.
async fn record_snapshots(
    cx: &Context,
    host: &Arc<Host>,
    uuid: Uuid,
    known: &mut HashMap<Uuid, SnapshotNames>,
) {
    match observed::record_snapshots(cx, host, uuid, known.get(&uuid)).await {
        Ok(names) => {
            known.insert(uuid, names);
        }
        Err(observed::ObservedError::Host(HostError::NoDomain)) => {
            known.remove(&uuid);
        }
        Err(error) => {
            tracing::warn!(host = %host.key(), %uuid, error = %chain(&error), "could not read a domain's snapshots");
        }
    }
}

/// Lists everything again (reconnecting as often as it takes), corrects the records, and tells
/// every stream to send a fresh snapshot.
async fn resynchronize(cx: &Context, host: &Arc<Host>, shutdown: &CancellationToken) {
    let mut attempt = 0;
    let changes = loop {
        match host.resync().await {
            Ok(changes) => break changes,
            Err(error) => {
                if attempt == 0 {
                    tracing::warn!(host = %host.key(), error = %chain(&error), "libvirt is unreachable; retrying");
                    // Every stream lists again: this host's VMs are `unknown` until it is back.
                    cx.bus.publish(VmChange::Resync);
                    cx.bus.publish(VmChange::Hosts);
                }
                let delay = BACKOFF[attempt.min(BACKOFF.len() - 1)];
                attempt += 1;
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    };
    for change in changes {
        observed::record(cx, change).await;
    }
    if attempt > 0 {
        cx.bus.publish(VmChange::Hosts);
        tracing::info!(
            host = %host.key(),
            attempts = attempt + 1,
            "libvirt reachable again; state resynchronized"
        );
    }
    if let Err(error) = observed::records_follow_view(cx, host.key()).await {
        tracing::warn!(host = %host.key(), error = %chain(&error), "could not bring the records in step");
    }
    // Events may have been missed while disconnected: every stream starts again from the truth.
    cx.bus.publish(VmChange::Resync);
}
