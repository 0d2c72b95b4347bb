//! A VM's snapshots: list, take, revert, delete (internal qcow2 snapshots through libvirt).
//! libvirt says which exist; Limen's records add who took each. Taking one is a saga (take →
//! record); reverting and deleting are one libvirt call each. Each runs under the VM's lock,
//! publishes its progress to whoever sees the VM, and its result (`vm_snapshots`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::machine::{OperationKind, OperationProgress, ProgressState};
use app::snapshots::{
    memory_rule, validate_description, validate_snapshot_name, CreateSnapshotRequest, Snapshot,
    SnapshotState,
};
use app::types::{VmId, VmStatus};
use chrono::{TimeZone, Utc};
use uuid::Uuid;

use super::records::{settled_row, visible_row};
use super::{refused, ServiceError};
use crate::auth::quota_report;
use crate::context::Context;
use crate::db::models::VmRow;
use crate::db::snapshots::{self as q, SnapshotRow};
use crate::error::Describe;
use crate::host::disk::image_info;
use crate::host::snapshots::HostSnapshot;
use crate::host::{Host, HostError};
use crate::keyed_locks::KeyedGuard;
use crate::live::VmChange;
use crate::observed;
use crate::ops::snapshot_create::TakeSnapshot;
use crate::ops::Sagas;
use crate::recorded;

const GIB: u64 = 1 << 30;

fn to_wire(found: HostSnapshot, authors: &[SnapshotRow]) -> Snapshot {
    Snapshot {
        created_by: authors
            .iter()
            .find(|row| row.name == found.name)
            .and_then(|row| row.created_by.clone()),
        state: SnapshotState::from_libvirt(&found.state),
        created_at: Utc
            .timestamp_opt(found.created_at, 0)
            .single()
            .unwrap_or_default(),
        name: found.name,
        description: found.description,
        memory: found.memory,
        parent: found.parent,
        current: found.current,
    }
}

/// The VM's snapshots as libvirt has them, oldest first, each with its author.
async fn read(cx: &Context, row: &VmRow) -> Result<Vec<Snapshot>, ServiceError> {
    let host = cx.hosts.get(&row.host)?;
    let found = match host.snapshots(row.uuid).await {
        Ok(found) => found,
        // A VM whose domain is missing has no snapshots to show.
        Err(HostError::NoDomain) => Vec::new(),
        Err(error) => return Err(error.into()),
    };
    let id = row.uuid;
    let authors = cx.db.run(move |conn| q::of_vm(conn, id)).await?;
    let snapshots: Vec<Snapshot> = found
        .into_iter()
        .map(|found| to_wire(found, &authors))
        .collect();
    // Oldest first; of two taken in the same second, the parent first.
    let depth = |snapshot: &Snapshot| {
        let mut depth = 0;
        let mut parent = snapshot.parent.as_deref();
        while let Some(name) = parent.filter(|_| depth < snapshots.len()) {
            depth += 1;
            parent = snapshots
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.parent.as_deref());
        }
        depth
    };
    let mut keyed: Vec<_> = snapshots
        .iter()
        .map(|s| (s.created_at, depth(s), s.name.clone()))
        .zip(snapshots.iter().cloned())
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keyed.into_iter().map(|(_, snapshot)| snapshot).collect())
}

fn no_such_snapshot(name: &str) -> ServiceError {
    refused(AppError::new(
        ErrorCode::SnapshotNotFound,
        format!("The VM has no snapshot named \"{name}\"."),
    ))
}

pub(super) async fn list(
    cx: Context,
    caller: Principal,
    id: VmId,
) -> Result<Vec<Snapshot>, ServiceError> {
    let row = visible_row(&cx, &caller, id.0).await?;
    read(&cx, &row).await
}

/// The VM's status now, for the rules that depend on it; one libvirt cannot speak for is
/// refused in words.
async fn settled_status(cx: &Context, row: &VmRow) -> Result<VmStatus, ServiceError> {
    let status = row
        .clone()
        .into_vm(observed::live_state(cx, row).await?)
        .status;
    match status {
        VmStatus::Running | VmStatus::Paused | VmStatus::Stopped | VmStatus::Crashed => Ok(status),
        VmStatus::Missing => Err(refused(AppError::new(
            ErrorCode::InvalidState,
            format!("\"{}\" has no libvirt domain (it is missing).", row.name),
        ))),
        VmStatus::ShuttingDown => Err(refused(AppError::new(
            ErrorCode::InvalidState,
            format!(
                "\"{}\" is shutting down; try again when it has stopped.",
                row.name
            ),
        ))),
        _ => Err(refused(AppError::new(
            ErrorCode::HypervisorUnavailable,
            format!(
                "The state of \"{}\" is not known now; try again shortly.",
                row.name
            ),
        ))),
    }
}

/// What a snapshot may add to the disk file, in GiB: a memory snapshot writes the VM's RAM
/// into it (at most all of it).
fn snapshot_estimate_gb(row: &VmRow, memory: bool) -> i64 {
    if memory {
        (row.memory_mib.max(0) + 1023) / 1024
    } else {
        0
    }
}

/// The refusal, if the VM counting for `counted_after` GiB instead of what it counts for now
/// would take its owner past their disk quota. A VM counts for the larger of its disk's size
/// and what its file takes (see the README).
async fn check_quota(
    cx: &Context,
    row: &VmRow,
    counted_after: i64,
    what: &str,
) -> Result<(), ServiceError> {
    let Some(owner) = &row.owner else {
        return Ok(());
    };
    let quota = quota_report(&cx.db, owner).await?;
    let Some(limit) = quota.limits.max_disk_gb else {
        return Ok(());
    };
    let counted_now = row.disk_size_gb.max(row.disk_allocated_gb);
    let more = u64::try_from(counted_after - counted_now).unwrap_or(0);
    let used = quota.used.disk_gb;
    if more > 0 && used.saturating_add(more) > limit {
        return Err(refused(AppError::new(
            ErrorCode::QuotaExceeded,
            format!(
                "Your quota allows {limit} GiB of disk in all; you use {used}, and {what} may \
                 add up to {more} GiB. Delete old snapshots first."
            ),
        )));
    }
    Ok(())
}

/// Snapshot work in progress in this process, by operation id, with the owner of its VM: its
/// progress goes on the event stream as it starts and ends, and `GET /api/v1/operations`
/// lists it meanwhile (a page opened in the middle shows it too).
#[derive(Clone, Default)]
pub(super) struct Works(Arc<Mutex<Running>>);

/// Each piece of work by its id, with the owner of its VM.
type Running = HashMap<Uuid, (OperationProgress, Option<String>)>;

impl Works {
    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The work running now on the VMs `caller` may see.
    pub(super) fn visible(&self, caller: &Principal) -> Vec<OperationProgress> {
        self.lock()
            .values()
            .filter(|(_, owner)| caller.may_see(owner.as_deref()))
            .map(|(progress, _)| progress.clone())
            .collect()
    }

    /// The work `started` begins: listed, and published.
    fn begin(&self, cx: &Context, row: &VmRow, started: OperationProgress) -> OperationProgress {
        self.lock()
            .insert(started.id, (started.clone(), row.owner.clone()));
        publish_progress(cx, row, &started);
        started
    }

    /// The work ended with `result`: its end is published, and that the VM's list changed.
    fn end<T>(
        &self,
        cx: &Context,
        row: &VmRow,
        started: OperationProgress,
        result: &Result<T, ServiceError>,
    ) {
        self.lock().remove(&started.id);
        let end = match result {
            Ok(_) => OperationProgress {
                state: ProgressState::Done,
                percent: 100,
                ..started
            },
            Err(error) => OperationProgress {
                state: ProgressState::Failed,
                error: Some(error.describe().message),
                ..started
            },
        };
        publish_progress(cx, row, &end);
        cx.bus.publish(VmChange::Snapshots {
            uuid: VmId(row.uuid),
            owner: row.owner.clone(),
        });
    }
}

/// The progress of a revert or a delete of snapshot `name`, beginning.
fn starting(kind: OperationKind, row: &VmRow, name: &str) -> OperationProgress {
    OperationProgress {
        id: Uuid::new_v4(),
        kind,
        vm: VmId(row.uuid),
        target: name.to_string(),
        percent: 0,
        state: ProgressState::Running,
        error: None,
    }
}

fn publish_progress(cx: &Context, row: &VmRow, progress: &OperationProgress) {
    cx.bus.publish(VmChange::Progress {
        progress: progress.clone(),
        owner: row.owner.clone(),
    });
}

/// A name as revert and delete take it: any name libvirt may hold (one made outside Limen
/// need not follow Limen's rule), but not one no snapshot can have.
fn check_existing_name(name: &str) -> Result<(), ServiceError> {
    if name.is_empty() || name.len() > 1024 || name.chars().any(char::is_control) {
        return Err(no_such_snapshot(name));
    }
    Ok(())
}

/// An earlier take of the same name that failed and is still to be undone (libvirt was
/// unreachable) would, when recovery undoes it, delete the snapshot of that name: a new one
/// waits until then.
async fn refuse_while_undone(cx: &Context, id: VmId, name: &str) -> Result<(), ServiceError> {
    let unfinished = cx.db.run(crate::db::operations::op_unfinished).await?;
    let pending = unfinished.iter().any(|op| {
        op.kind == "snapshot_create"
            && op.vm_uuid == id.0
            && op.params.get("name").and_then(|n| n.as_str()) == Some(name)
    });
    if pending {
        return Err(refused(AppError::new(
            ErrorCode::InvalidState,
            format!(
                "An earlier attempt to take \"{name}\" is still being undone; try again shortly."
            ),
        )));
    }
    Ok(())
}

/// After a change to the disk file: what it takes now is recorded (best effort: the next
/// sweep measures it again).
async fn measure(cx: &Context, id: Uuid) {
    if let Ok(Some(row)) = cx
        .db
        .run(move |conn| crate::db::vms::vm_fetch(conn, id))
        .await
    {
        if let Err(error) = observed::record_disk_allocation(cx, &row).await {
            tracing::warn!(%id, error = %crate::error::chain(&error), "could not record the disk's allocation");
        }
    }
}

/// Takes a snapshot. The caller holds the VM's lock, and `quota_lock`, its owner's: the
/// growth the snapshot may bring is checked and reserved in the record under it, and the lock
/// is let go before libvirt works (a memory snapshot of a big VM takes a while).
pub(super) async fn create(
    sagas: Sagas,
    works: Works,
    caller: Principal,
    id: VmId,
    request: CreateSnapshotRequest,
    max_per_vm: u32,
    quota_lock: Option<KeyedGuard<String>>,
) -> Result<Snapshot, ServiceError> {
    let cx = sagas.context().clone();
    validate_snapshot_name(&request.name).map_err(refused)?;
    let description = request
        .description
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    if let Some(description) = &description {
        validate_description(description).map_err(refused)?;
    }
    let row = settled_row(&cx, &caller, id.0).await?;
    let status = settled_status(&cx, &row).await?;
    let memory = memory_rule(status, request.memory)
        .map_err(|rule| refused(AppError::new(ErrorCode::InvalidState, rule)))?;
    let host: Arc<Host> = cx.hosts.get(&row.host)?.clone();
    let existing = host.snapshot_names(id.0).await?;
    if existing.names.contains(&request.name) {
        return Err(refused(AppError::new(
            ErrorCode::SnapshotAlreadyExists,
            format!(
                "\"{}\" already has a snapshot named \"{}\".",
                row.name, request.name
            ),
        )));
    }
    if existing.names.len() >= usize::try_from(max_per_vm).unwrap_or(usize::MAX) {
        return Err(refused(AppError::new(
            ErrorCode::SnapshotLimitReached,
            format!(
                "\"{}\" has {} snapshots, as many as one VM may have (max_snapshots_per_vm); delete one first.",
                row.name,
                existing.names.len()
            ),
        )));
    }
    refuse_while_undone(&cx, id, &request.name).await?;
    let allocated = observed::disk_allocated_gb(std::path::Path::new(&row.disk_path)).await
        + snapshot_estimate_gb(&row, memory);
    check_quota(&cx, &row, row.disk_size_gb.max(allocated), "this snapshot").await?;
    if allocated > row.disk_allocated_gb {
        observed::write_disk_allocation(&cx, &row, allocated).await?;
    }
    drop(quota_lock);
    let saga = TakeSnapshot {
        job: Uuid::new_v4(),
        vm: id.0,
        host: host.key().clone(),
        name: request.name.clone(),
        description,
        memory,
        created_by: Some(caller.username.clone()),
        disk_size_gb: Some(row.disk_size_gb),
    };
    let started = works.begin(&cx, &row, saga.progress(ProgressState::Running, None));
    let result = sagas.execute(&saga).await.map_err(ServiceError::Snapshot);
    // The reservation gives way to what the file takes now.
    measure(&cx, id.0).await;
    works.end(&cx, &row, started, &result);
    result?;
    tracing::info!(vm = %id.0, snapshot = %request.name, "snapshot taken");
    read(&cx, &row)
        .await?
        .into_iter()
        .find(|snapshot| snapshot.name == request.name)
        .ok_or_else(|| no_such_snapshot(&request.name))
}

/// Reverts the VM to a snapshot: its disk (and size), and its memory and state if the
/// snapshot holds them. The VM's status then comes from libvirt's events. The caller holds
/// the VM's lock and its owner's quota lock: a revert to a larger disk is checked first.
pub(super) async fn revert(
    cx: Context,
    works: Works,
    caller: Principal,
    id: VmId,
    name: String,
) -> Result<Snapshot, ServiceError> {
    check_existing_name(&name)?;
    let row = settled_row(&cx, &caller, id.0).await?;
    settled_status(&cx, &row).await?;
    let snapshots = read(&cx, &row).await?;
    let Some(target) = snapshots.iter().find(|s| s.name == name) else {
        return Err(no_such_snapshot(&name));
    };
    if target.state == SnapshotState::DiskOnly {
        return Err(refused(AppError::new(
            ErrorCode::InvalidState,
            format!(
                "\"{name}\" holds external disk files made outside Limen; revert to it with virsh."
            ),
        )));
    }
    // The size the disk had then comes back. Known for a snapshot Limen took; one made
    // outside Limen is the host's administrator's business.
    let (vm, wanted) = (id.0, name.clone());
    let size_then = cx
        .db
        .run(move |conn| q::of_vm(conn, vm))
        .await?
        .into_iter()
        .find(|author| author.name == wanted)
        .and_then(|author| author.disk_size_gb);
    if let Some(size_then) = size_then.filter(|size| *size > row.disk_size_gb) {
        let counted_after = size_then.max(row.disk_allocated_gb);
        check_quota(&cx, &row, counted_after, "this revert (to a larger disk)").await?;
    }
    let host = cx.hosts.get(&row.host)?.clone();
    let started = works.begin(
        &cx,
        &row,
        starting(OperationKind::SnapshotRevert, &row, &name),
    );
    let result = host
        .revert_snapshot(id.0, name.clone())
        .await
        .map_err(ServiceError::from);
    if result.is_ok() {
        // The snapshot's definition and disk size are the VM's again.
        if let Err(error) = observed::record_settings(&cx, &host, id.0).await {
            tracing::warn!(vm = %id.0, error = %crate::error::chain(&error), "could not read the settings after a revert");
        }
        if let Ok(info) = image_info(std::path::Path::new(&row.disk_path)).await {
            let size_gb = info.virtual_size.div_ceil(GIB);
            if i64::try_from(size_gb).ok() != Some(row.disk_size_gb) {
                if let Err(error) = recorded::set_disk_size(&cx, id.0, size_gb).await {
                    tracing::warn!(vm = %id.0, error = %crate::error::chain(&error), "could not record the disk size after a revert");
                }
            }
        }
    }
    measure(&cx, id.0).await;
    works.end(&cx, &row, started, &result);
    result?;
    tracing::info!(vm = %id.0, snapshot = %name, "reverted to a snapshot");
    read(&cx, &row)
        .await?
        .into_iter()
        .find(|snapshot| snapshot.name == name)
        .ok_or_else(|| no_such_snapshot(&name))
}

/// Deletes a snapshot (its children move up to its parent) and frees its data in the disk
/// file. The caller holds the VM's lock.
pub(super) async fn delete(
    cx: Context,
    works: Works,
    caller: Principal,
    id: VmId,
    name: String,
) -> Result<(), ServiceError> {
    check_existing_name(&name)?;
    let row = settled_row(&cx, &caller, id.0).await?;
    let host = cx.hosts.get(&row.host)?.clone();
    if !host.has_snapshot(id.0, name.clone()).await? {
        return Err(no_such_snapshot(&name));
    }
    let started = works.begin(
        &cx,
        &row,
        starting(OperationKind::SnapshotDelete, &row, &name),
    );
    let result = async {
        host.delete_snapshot(id.0, name.clone()).await?;
        let (vm, gone) = (id.0, name.clone());
        cx.db.run(move |conn| q::delete(conn, vm, &gone)).await?;
        Ok::<_, ServiceError>(())
    }
    .await;
    measure(&cx, id.0).await;
    works.end(&cx, &row, started, &result);
    result?;
    tracing::info!(vm = %id.0, snapshot = %name, "snapshot deleted");
    Ok(())
}
