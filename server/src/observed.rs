//! Observed state: the one writer of what libvirt says about a VM into its record, and the one
//! reader that merges a record with the live view. Below everyone who needs them (the service's
//! verbs, the operations, reconcile and the monitor), so their imports all point down here.
//!
//! Every write is guarded by the observation's generation (an older observation never
//! overwrites a newer one) and leaves alone a status an operation holds
//! ([`app::types::VmStatus::is_held_by_operation`]); what changed is published on the bus.

use app::report::StatusDrift;
use app::types::{Vm, VmId, VmStatus};
use uuid::Uuid;

use crate::context::Context;
use crate::db::models::VmRow;
use crate::db::vms::{self as q, Observed};
use crate::db::DbError;
use crate::error::chain;
use crate::host::{Host, HostError, HostKey, LiveState, Observation};
use crate::live::VmChange;

#[derive(Debug, thiserror::Error)]
pub enum ObservedError {
    #[error("reading or writing a VM record failed")]
    Db(#[from] DbError),
    #[error("asking the hypervisor failed")]
    Host(#[from] HostError),
}

/// What the record's host says of its domain now (from the live view; libvirt is asked only
/// when the view is out of step). A host that is not managed, or that cannot be reached
/// while its monitor retries, is `Unknown` (as in the list).
pub async fn live_state(cx: &Context, row: &VmRow) -> Result<LiveState, HostError> {
    let host = match cx.hosts.get(&row.host) {
        Ok(host) => host,
        Err(HostError::UnknownHost(_)) => return Ok(LiveState::Unknown),
        Err(error) => return Err(error),
    };
    match host.domain_state(row.uuid).await {
        Err(HostError::Unreachable { .. }) => Ok(LiveState::Unknown),
        other => other,
    }
}

/// The VM as it is now: its record merged with the live view. `None`: no record.
pub async fn vm_now(cx: &Context, id: Uuid) -> Result<Option<Vm>, ObservedError> {
    let Some(row) = cx.db.run(move |conn| q::vm_fetch(conn, id)).await? else {
        return Ok(None);
    };
    let live = live_state(cx, &row).await?;
    Ok(Some(row.into_vm(live)))
}

/// The guarded write of one observation of `host` (unless a newer one is recorded, or an
/// operation holds the status); the record as written, if it was.
async fn write(
    cx: &Context,
    host: &Host,
    observation: &Observation,
) -> Result<Option<VmRow>, DbError> {
    let (id, key) = (observation.uuid, observation.host.clone());
    let status = observation.status.unwrap_or(VmStatus::Missing);
    let generation = i64::try_from(observation.generation).unwrap_or(i64::MAX);
    let fresh = host.fresh_generation();
    let written = cx
        .db
        .run(move |conn| {
            let observed = Observed {
                id,
                host: key.as_str(),
                status,
                generation,
            };
            q::vm_record_observed(conn, observed, fresh)
        })
        .await?;
    if let Some(row) = &written {
        host.written_at(row.generation);
    }
    Ok(written)
}

/// Records an observation and, if it is news, publishes the VM as it now is. Domains without a
/// record (ghosts) are nobody's business here. A failure is logged: an observation is taken
/// again at the next event, resync or reconcile.
pub async fn record(cx: &Context, observation: Observation) {
    tracing::debug!(?observation, "observed");
    let Ok(host) = cx.hosts.get(observation.host.as_str()) else {
        tracing::warn!(host = %observation.host, "an observation of a host that is not configured");
        return;
    };
    let id = observation.uuid;
    let moved = match follow_move(cx, &observation).await {
        Ok(moved) => moved,
        Err(error) => {
            tracing::warn!(%id, error = %chain(&error), "could not follow a VM to another host");
            false
        }
    };
    if moved {
        return;
    }
    let now = match write(cx, &host, &observation).await {
        Ok(Some(row)) => Ok(Some(row)),
        // A newer observation won, or an operation holds the status: read what is there.
        Ok(None) => cx.db.run(move |conn| q::vm_fetch(conn, id)).await,
        Err(error) => Err(error),
    };
    match now {
        Ok(Some(row)) if row.host == observation.host.as_str() => {
            if observation.changed && !row.status.is_held_by_operation() {
                // The view may know more by now; if it is out of step, this observation is
                // the freshest word there is.
                let live = host
                    .live()
                    .state(id)
                    .unwrap_or_else(|| observation.live_state());
                cx.bus.publish(VmChange::Updated(row.into_vm(live)));
            }
        }
        Ok(_) => {}
        Err(error) => {
            tracing::warn!(%id, error = %chain(&error), "could not record an observed status")
        }
    }
}

/// Whether the domain runs (or is paused) on `host`, by its live view (no libvirt call).
fn active_on(host: &Host, id: Uuid) -> bool {
    matches!(
        host.live().state(id),
        Some(LiveState::Is { status, .. }) if status.is_active()
    )
}

/// Whether the host's live view lists the domain (in any state; no libvirt call).
fn defined_on(host: &Host, id: Uuid) -> bool {
    matches!(host.live().state(id), Some(LiveState::Is { .. }))
}

/// A VM that moved between hosts behind Limen's back (`virsh migrate`) is followed: when one
/// host reports its domain gone or shut off while another runs it (or gone while another has
/// it defined), or a host runs a domain whose recorded host does not, the record moves there. Never while an
/// operation holds the VM (Limen's own migration moves the record itself). Returns whether the
/// record moved (and was published).
async fn follow_move(cx: &Context, observation: &Observation) -> Result<bool, DbError> {
    let id = observation.uuid;
    let observed_active = observation.status.is_some_and(VmStatus::is_active);
    let Some(row) = cx.db.run(move |conn| q::vm_fetch(conn, id)).await? else {
        return Ok(false);
    };
    if row.status.is_held_by_operation() {
        return Ok(false);
    }
    let recorded_host = cx.hosts.get(&row.host).ok();
    let destination = if row.host == observation.host.as_str() {
        if observed_active {
            return Ok(false);
        }
        let others: Vec<_> = cx
            .hosts
            .all()
            .into_iter()
            .filter(|other| other.key() != &observation.host)
            .collect();
        // Where it runs; else, if it is gone from here, where it is defined (a move of a
        // stopped VM, or a running one that was transient there and stopped): not `missing`.
        others
            .iter()
            .find(|other| active_on(other, id))
            .or_else(|| {
                observation
                    .status
                    .is_none()
                    .then(|| others.iter().find(|other| defined_on(other, id)))
                    .flatten()
            })
            .cloned()
    } else if observed_active && !recorded_host.is_some_and(|recorded| active_on(&recorded, id)) {
        cx.hosts.get(observation.host.as_str()).ok()
    } else {
        None
    };
    let Some(destination) = destination else {
        return Ok(false);
    };
    let Some(LiveState::Is { status, generation }) = destination.live().state(id) else {
        return Ok(false);
    };
    let moved = q::Moved {
        id,
        from: row.host.clone(),
        to: destination.key().as_str().to_string(),
        status,
        generation: i64::try_from(generation).unwrap_or(i64::MAX),
    };
    let fresh = destination.fresh_generation();
    let Some(written) = cx
        .db
        .run(move |conn| q::vm_record_moved(conn, &moved, fresh))
        .await?
    else {
        return Ok(false);
    };
    destination.written_at(written.generation);
    tracing::info!(%id, from = %row.host, to = %written.host, "the VM moved to another host outside Limen; its record follows");
    let live = LiveState::Is { status, generation };
    cx.bus.publish(VmChange::Updated(written.into_vm(live)));
    Ok(true)
}

/// Makes every record on `host` say what libvirt says (a record without a domain becomes
/// `missing`). Returns what was corrected; the caller decides whether streams need a snapshot.
///
/// The live view finds the candidates; each is then asked again, so the correction carries a
/// generation newer than anything recorded (a change that landed meanwhile is not undone).
pub async fn records_follow_view(
    cx: &Context,
    host: &HostKey,
) -> Result<Vec<StatusDrift>, ObservedError> {
    let hypervisor = cx.hosts.get(host.as_str())?;
    let domains = hypervisor.domains().await?;
    let rows = cx.db.run(q::vm_list).await?;
    let mut drift = Vec::new();
    for row in rows {
        if row.host != host.as_str() || row.status.is_held_by_operation() {
            continue;
        }
        let listed = domains
            .domains
            .get(&row.uuid)
            .map_or(VmStatus::Missing, |domain| domain.status);
        if row.status == listed {
            continue;
        }
        let observation = hypervisor.observe(row.uuid).await?;
        let observed = observation.status.unwrap_or(VmStatus::Missing);
        if observed == row.status || follow_move(cx, &observation).await? {
            continue;
        }
        if write(cx, &hypervisor, &observation).await?.is_some() {
            drift.push(StatusDrift {
                uuid: VmId(row.uuid),
                name: row.name,
                recorded: row.status,
                observed,
            });
        }
    }
    Ok(drift)
}

/// Records the domain's boot order and media as libvirt has them now (after a change Limen
/// made, or one made behind its back: `virsh change-media`, `virsh edit`) and publishes the VM
/// if that is news. Returns the record as it now is. The media is recorded by its file name:
/// a host path never reaches a screen.
pub async fn record_settings(
    cx: &Context,
    host: &std::sync::Arc<Host>,
    id: Uuid,
) -> Result<Option<VmRow>, ObservedError> {
    // The version is taken before libvirt is read, and the write only lands on a record not
    // written since: a read that a newer write overtook reads again (libvirt is the truth).
    for _ in 0..3 {
        let fresh = host.fresh_generation();
        let settings = host.settings(id).await?;
        let media = settings
            .media
            .as_deref()
            .and_then(|path| path.file_name())
            .map(|name| name.to_string_lossy().into_owned());
        let order = settings.boot_order;
        let seen = media.clone();
        let written = cx
            .db
            .run(move |conn| q::vm_record_settings(conn, id, order, media.as_deref(), fresh))
            .await?;
        let Some(row) = written else {
            let now = cx.db.run(move |conn| q::vm_fetch(conn, id)).await?;
            match &now {
                Some(row) if row.boot_order != order || row.current_media != seen => continue,
                _ => return Ok(now),
            }
        };
        host.written_at(row.generation);
        let live = live_state(cx, &row).await?;
        cx.bus.publish(VmChange::Updated(row.clone().into_vm(live)));
        return Ok(Some(row));
    }
    Ok(cx.db.run(move |conn| q::vm_fetch(conn, id)).await?)
}

/// What a VM's disk file takes on the host, in whole GiB rounded down (so the qcow2 format's
/// own tables never make a full disk count for more than its size; 0 if it cannot be read:
/// the disk's size counts then).
pub async fn disk_allocated_gb(path: &std::path::Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    match tokio::fs::metadata(path).await {
        Ok(meta) => i64::try_from((meta.blocks() * 512) >> 30).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Measures what the VM's disk file takes and records it if that changed (the disk quota
/// counts it once it passes the disk's size: internal snapshots keep old blocks and memory in
/// the file).
pub async fn record_disk_allocation(cx: &Context, row: &VmRow) -> Result<(), DbError> {
    let gb = disk_allocated_gb(std::path::Path::new(&row.disk_path)).await;
    if gb == row.disk_allocated_gb {
        return Ok(());
    }
    write_disk_allocation(cx, row, gb).await
}

/// Writes the VM's disk allocation (`gb`) into its record, at a fresh generation of its host's
/// clock (two versions of a record never share one), and publishes the record's new version.
pub async fn write_disk_allocation(cx: &Context, row: &VmRow, gb: i64) -> Result<(), DbError> {
    let id = row.uuid;
    let Ok(host) = cx.hosts.get(&row.host) else {
        return Ok(());
    };
    let fresh = host.fresh_generation();
    let written = cx
        .db
        .run(move |conn| crate::db::snapshots::set_disk_allocated(conn, id, gb, fresh))
        .await?;
    if let Some(row) = written {
        host.written_at(row.generation);
        if let Ok(live) = live_state(cx, &row).await {
            cx.bus.publish(VmChange::Updated(row.into_vm(live)));
        }
    }
    Ok(())
}

/// Reads the VM's snapshot names again and measures its disk file. If the names differ from
/// `known` (what was read last; `None` for the first read), the author records of snapshots
/// that are gone are tidied and the change is published (on a first read, only if the VM has
/// snapshots). Returns what was read.
pub async fn record_snapshots(
    cx: &Context,
    host: &std::sync::Arc<Host>,
    id: Uuid,
    known: Option<&crate::host::snapshots::SnapshotNames>,
) -> Result<crate::host::snapshots::SnapshotNames, ObservedError> {
    let read_at = chrono::Utc::now();
    let now = host.snapshot_names(id).await?;
    let Some(row) = cx.db.run(move |conn| q::vm_fetch(conn, id)).await? else {
        return Ok(now);
    };
    record_disk_allocation(cx, &row).await?;
    if known == Some(&now) {
        return Ok(now);
    }
    let names = now.names.clone();
    let gone = cx
        .db
        .run(move |conn| crate::db::snapshots::keep_only(conn, id, &names, read_at))
        .await?;
    if !gone.is_empty() {
        tracing::info!(%id, ?gone, "snapshots deleted outside Limen; their records are tidied");
    }
    // The first read of a VM says nothing of a VM without snapshots (most, at start); one with
    // some may have had one made since its page was loaded.
    if known.is_some() || !now.names.is_empty() {
        cx.bus.publish(VmChange::Snapshots {
            uuid: VmId(id),
            owner: row.owner,
        });
    }
    Ok(now)
}
