//! The monitor: reads the host's signals (libvirt events, connection loss) and keeps the
//! database and every open stream in step with what libvirt reports.

use std::time::Duration;

use app::error::AppError;
use app::report::StatusDrift;
use app::types::{VmId, VmStatus};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use super::bus::VmChange;
use crate::db::vms as q;
use crate::error::{chain, db_error, host_error};
use crate::host::events::HostSignal;
use crate::host::Observation;
use crate::ops::OpContext;
use crate::service::merge;

/// Reconnect delays after the connection to libvirt is lost: quick at first, then every 5 s.
const BACKOFF: [Duration; 5] = [
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(5),
];

/// Runs until `shutdown`; first brings the view and the records in step with libvirt.
pub async fn run(
    cx: OpContext,
    mut signals: UnboundedReceiver<HostSignal>,
    shutdown: CancellationToken,
) {
    match cx.db.run(q::vm_max_generation).await {
        Ok(recorded) => cx
            .host
            .live()
            .seed_generation(u64::try_from(recorded).unwrap_or(0)),
        Err(error) => {
            tracing::warn!(error = %chain(&error), "could not read the newest status generation")
        }
    }
    resynchronize(&cx, &shutdown).await;
    loop {
        let signal = tokio::select! {
            () = shutdown.cancelled() => return,
            signal = signals.recv() => signal,
        };
        match signal {
            None => return,
            Some(HostSignal::DomainChanged { uuid, reported }) => {
                tracing::debug!(%uuid, ?reported, "domain event");
                let from_event =
                    reported.and_then(|status| cx.host.live().apply_reported(uuid, status));
                let observation = match from_event {
                    Some(observation) => Ok(observation),
                    None => cx.host.observe(uuid).await,
                };
                match observation {
                    Ok(observation) => publish_observation(&cx, observation).await,
                    Err(error) => {
                        tracing::warn!(%uuid, error = %chain(&error), "could not read a domain after its event");
                    }
                }
            }
            Some(HostSignal::ConnectionClosed) => {
                tracing::warn!("the libvirt connection closed; reconnecting");
                cx.host.live().mark_unsynced();
                resynchronize(&cx, &shutdown).await;
            }
            Some(HostSignal::Resynced) => match records_follow_view(&cx).await {
                Ok(_) => {
                    cx.bus.publish(VmChange::Resync);
                }
                Err(error) => {
                    tracing::warn!(error = %error, "could not bring the records in step");
                }
            },
        }
    }
}

/// Lists everything again (reconnecting as often as it takes), corrects the records, and tells
/// every stream to send a fresh snapshot.
async fn resynchronize(cx: &OpContext, shutdown: &CancellationToken) {
    let mut attempt = 0;
    let changes = loop {
        match cx.host.resync().await {
            Ok(changes) => break changes,
            Err(error) => {
                if attempt == 0 {
                    tracing::warn!(error = %chain(&error), "libvirt is unreachable; retrying");
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
        publish_observation(cx, change).await;
    }
    if attempt > 0 {
        tracing::info!(
            attempts = attempt + 1,
            "libvirt reachable again; state resynchronized"
        );
    }
    if let Err(error) = records_follow_view(cx).await {
        tracing::warn!(error = %error, "could not bring the records in step");
    }
    // Events may have been missed while disconnected: every stream starts again from the truth.
    cx.bus.publish(VmChange::Resync);
}

/// Records an observation (unless a newer one is recorded) and, if it is news, publishes the
/// VM as it now is. Domains without a record (ghosts) and VMs in the middle of an operation
/// are left to their owners.
pub async fn publish_observation(cx: &OpContext, observation: Observation) {
    tracing::debug!(?observation, "observed");
    let id = observation.uuid;
    let status = observation.status.unwrap_or(VmStatus::Missing);
    let generation = i64::try_from(observation.generation).unwrap_or(i64::MAX);
    let written = cx
        .db
        .run(move |conn| {
            match q::vm_record_observed(conn, id, status.as_str(), generation)? {
                Some(row) => Ok(Some(row)),
                // A newer observation won, or an operation owns the status: read what is there.
                None => q::vm_fetch(conn, id),
            }
        })
        .await;
    match written {
        Ok(Some(row)) if observation.changed && !is_in_operation(&row.status) => {
            let live = cx.host.live().status(id).flatten();
            cx.bus.publish(VmChange::Updated(merge(row, live)));
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%id, error = %chain(&error), "could not record an observed status")
        }
    }
}

fn is_in_operation(status: &str) -> bool {
    status == VmStatus::Creating.as_str() || status == VmStatus::Deleting.as_str()
}

/// Makes every record's status what libvirt says (a record without a domain becomes
/// `missing`). Returns what was corrected; the caller decides whether streams need a snapshot.
///
/// The live view finds the candidates; each is then asked again, so the correction carries a
/// generation newer than anything recorded (a change that landed meanwhile is not undone).
pub async fn records_follow_view(cx: &OpContext) -> Result<Vec<StatusDrift>, AppError> {
    let domains = cx.host.domains().await.map_err(host_error)?;
    let rows = cx.db.run(q::vm_list).await.map_err(db_error)?;
    let mut drift = Vec::new();
    for row in rows {
        if is_in_operation(&row.status) {
            continue;
        }
        let recorded: VmStatus = row.status.parse().unwrap_or(VmStatus::Unknown);
        let listed = domains
            .domains
            .get(&row.uuid)
            .map_or(VmStatus::Missing, |domain| domain.status);
        if recorded == listed {
            continue;
        }
        let observation = cx.host.observe(row.uuid).await.map_err(host_error)?;
        let observed = observation.status.unwrap_or(VmStatus::Missing);
        if observed == recorded {
            continue;
        }
        let id = row.uuid;
        let generation = i64::try_from(observation.generation).unwrap_or(i64::MAX);
        let written = cx
            .db
            .run(move |conn| q::vm_record_observed(conn, id, observed.as_str(), generation))
            .await
            .map_err(db_error)?;
        if written.is_some() {
            drift.push(StatusDrift {
                uuid: VmId(id),
                name: row.name,
                recorded,
                observed,
            });
        }
    }
    Ok(drift)
}
