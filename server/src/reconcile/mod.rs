//! Reconciliation (SPEC §6): compare every host, the database and the disk directory, fix what
//! can be fixed without losing anything (status drift, `missing` marks, cut-off operations),
//! and report the rest for a person to decide (ghost domains to adopt, records to remove,
//! orphan disks). Nothing is deleted here.

pub mod adopt;
pub mod forget;
pub mod hosts;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use app::error::AppError;
use app::report::{
    GhostVm, MissingVm, OperationOutcome, OrphanDisk, ReconcileReport, StaleSnapshot, StatusDrift,
    UnreachableHost,
};
use app::types::{VmId, VmStatus};
use chrono::Utc;
use uuid::Uuid;

use crate::context::Context;
use crate::db::models::{OperationRow, VmRow};
use crate::db::{operations as ops_q, snapshots as snapshots_q, vms as q, DbError};
use crate::error::Describe;
use crate::host::{Host, HostError};
use crate::live::VmChange;
use crate::observed::{self, ObservedError};
use crate::ops::{registry, Sagas};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("a database step of reconcile failed")]
    Db(#[from] DbError),
    #[error("asking the hypervisor failed")]
    Host(#[from] HostError),
    #[error("the disk directory cannot be read")]
    DiskDir(#[source] std::io::Error),
    /// A decision for the user (adopt: the domain cannot be taken as it is).
    #[error("{0}")]
    Refused(AppError),
}

impl From<ObservedError> for ReconcileError {
    fn from(error: ObservedError) -> Self {
        match error {
            ObservedError::Db(error) => ReconcileError::Db(error),
            ObservedError::Host(error) => ReconcileError::Host(error),
        }
    }
}

impl Describe for ReconcileError {
    fn describe(&self) -> AppError {
        match self {
            ReconcileError::Db(error) => error.describe(),
            ReconcileError::Host(error) => error.describe(),
            ReconcileError::DiskDir(_) => AppError::new(
                app::error::ErrorCode::Internal,
                "The disk directory cannot be read.",
            ),
            ReconcileError::Refused(error) => error.clone(),
        }
    }
}

/// What a reconcile may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Finish or undo cut-off operations, correct records and publish the corrections: the
    /// server does this (it knows which operations it is running), and `limen reconcile` when
    /// no server runs.
    Repair,
    /// Write nothing, only report: `limen reconcile` while a server works on the database (it
    /// alone writes records and carries out operations).
    ReportOnly,
}

pub async fn reconcile(sagas: &Sagas, mode: Mode) -> Result<ReconcileReport, ReconcileError> {
    let cx = sagas.context();
    let started_at = Utc::now();
    let clock = Instant::now();
    hosts::follow_table(cx, None).await?;

    // Cut-off operations first: finishing one may remove a record, a domain or a disk.
    let operations: Vec<OperationOutcome> = match mode {
        Mode::Repair => sagas
            .recover()
            .await?
            .into_iter()
            .map(|done| OperationOutcome {
                operation: done.operation,
                kind: done.kind,
                vm: VmId(done.vm),
                outcome: done.outcome,
            })
            .collect(),
        Mode::ReportOnly => cx
            .db
            .run(ops_q::op_unfinished)
            .await?
            .into_iter()
            .map(|op| OperationOutcome {
                operation: op.id,
                kind: op.kind,
                vm: VmId(op.vm_uuid),
                outcome: "left for the server to recover".into(),
            })
            .collect(),
    };

    // A host that cannot be reached is reported and left alone: its VMs are neither missing
    // nor drifted, its domains neither ghosts nor proof that a disk is unused.
    let mut reachable = Vec::new();
    let mut unreachable_hosts = Vec::new();
    for host in cx.hosts.all() {
        match host.domains().await {
            Ok(view) => reachable.push((host, view)),
            Err(error) => {
                tracing::warn!(host = %host.key(), error = %crate::error::chain(&error), "reconcile: the host is unreachable");
                unreachable_hosts.push(UnreachableHost {
                    host: host.key().to_string(),
                    reason: host
                        .unreachable()
                        .unwrap_or("it did not answer")
                        .to_string(),
                });
            }
        }
    }
    let mut drift = Vec::new();
    for (host, _) in &reachable {
        drift.extend(host_drift(cx, host, mode).await?);
    }
    if mode == Mode::Repair && (!drift.is_empty() || !operations.is_empty()) {
        cx.bus.publish(VmChange::Resync);
    }

    let rows = cx.db.run(q::vm_list).await?;
    let recorded: HashSet<_> = rows.iter().map(|row| row.uuid).collect();
    let mut ghosts = Vec::new();
    let mut in_use: Vec<PathBuf> = rows
        .iter()
        .map(|row| PathBuf::from(&row.disk_path))
        .collect();
    let mut absent = HashSet::new();
    for (host, view) in &reachable {
        let domains = &view.domains;
        for domain in domains.values().filter(|d| !recorded.contains(&d.uuid)) {
            ghosts.push(GhostVm {
                uuid: VmId(domain.uuid),
                name: domain.name.clone(),
                status: domain.status,
            });
            // A ghost's disk is in use too (adopting it is the point of listing it).
            if let Ok(xml) = host.domain_xml(domain.uuid).await {
                if let Ok(definition) = crate::host::definition::parse(&xml) {
                    in_use.extend(definition.disk);
                }
            }
        }
        absent.extend(
            rows.iter()
                .filter(|row| row.host == host.key().as_str() && !domains.contains_key(&row.uuid))
                .map(|row| row.uuid),
        );
    }
    ghosts.sort_by(|a, b| a.name.cmp(&b.name));
    // Repaired: the records say `missing`. Only reported: what would be marked so.
    let missing: Vec<MissingVm> = rows
        .iter()
        .filter(|row| match mode {
            Mode::Repair => row.status == VmStatus::Missing,
            Mode::ReportOnly => absent.contains(&row.uuid) && !row.status.is_held_by_operation(),
        })
        .map(|row| MissingVm {
            uuid: VmId(row.uuid),
            name: row.name.clone(),
        })
        .collect();
    // A disk may belong to a domain of a host that did not answer: none is called an orphan then.
    let orphan_disks = if unreachable_hosts.is_empty() {
        orphan_disks(cx, in_use.into_iter()).await?
    } else {
        Vec::new()
    };
    let stale_snapshots = stale_snapshots(cx, &rows, &absent, mode).await?;

    let report = ReconcileReport {
        started_at,
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        ghosts,
        missing,
        drift,
        orphan_disks,
        operations,
        stale_snapshots,
        unreachable_hosts,
    };
    tracing::info!(
        ghosts = report.ghosts.len(),
        missing = report.missing.len(),
        drift = report.drift.len(),
        orphan_disks = report.orphan_disks.len(),
        operations = report.operations.len(),
        stale_snapshots = report.stale_snapshots.len(),
        duration_ms = report.duration_ms,
        ?mode,
        "reconciled"
    );
    Ok(report)
}

/// The records of `host` whose status differs from a full listing of its domains (a listing,
/// whatever the live view says: reconcile must not trust a cache). Repairing, what the listing
/// found changed is recorded and published like any event, then records the view already
/// agreed with but that disagree are corrected.
async fn host_drift(
    cx: &Context,
    host: &Arc<Host>,
    mode: Mode,
) -> Result<Vec<StatusDrift>, ReconcileError> {
    let rows: HashMap<Uuid, VmRow> = cx
        .db
        .run(q::vm_list)
        .await?
        .into_iter()
        .filter(|row| row.host == host.key().as_str())
        .map(|row| (row.uuid, row))
        .collect();
    let mut drift = Vec::new();
    let changes = host.resync().await?;
    for change in &changes {
        let observed = change.status.unwrap_or(VmStatus::Missing);
        if let Some(row) = rows.get(&change.uuid) {
            if !row.status.is_held_by_operation() && row.status != observed {
                drift.push(StatusDrift {
                    uuid: VmId(row.uuid),
                    name: row.name.clone(),
                    recorded: row.status,
                    observed,
                });
            }
        }
    }
    match mode {
        Mode::Repair => {
            for change in changes {
                observed::record(cx, change).await;
            }
            drift.extend(observed::records_follow_view(cx, host.key()).await?);
        }
        Mode::ReportOnly => {
            let listed = host.domains().await?.domains;
            for row in rows.values() {
                let observed = listed
                    .get(&row.uuid)
                    .map_or(VmStatus::Missing, |domain| domain.status);
                let known = drift.iter().any(|d| d.uuid.0 == row.uuid);
                if !known && !row.status.is_held_by_operation() && row.status != observed {
                    drift.push(StatusDrift {
                        uuid: VmId(row.uuid),
                        name: row.name.clone(),
                        recorded: row.status,
                        observed,
                    });
                }
            }
        }
    }
    Ok(drift)
}

/// Files in the disk directory that no record, no domain and no unfinished operation refers to.
/// The directory is read before the operations, so a create that starts meanwhile is either
/// seen as an operation or its disk is not there yet.
async fn orphan_disks(
    cx: &Context,
    in_use: impl Iterator<Item = PathBuf>,
) -> Result<Vec<OrphanDisk>, ReconcileError> {
    let files = cx.disks.files().await.map_err(ReconcileError::DiskDir)?;
    let mut in_use: HashSet<PathBuf> = in_use.collect();
    // A create still running (or left for recovery) owns its disk before the record shows it.
    for op in cx.db.run(ops_q::op_unfinished).await? {
        in_use.extend(disk_of(&op));
    }
    Ok(files
        .into_iter()
        .filter(|(_, path, _)| !in_use.contains(path))
        .map(|(file, _, size)| OrphanDisk { file, size })
        .collect())
}

/// Snapshot records whose snapshot libvirt does not have. Repairing tidies those of a domain
/// that exists (the snapshot was deleted outside Limen); a missing VM's stay with its record.
async fn stale_snapshots(
    cx: &Context,
    rows: &[VmRow],
    absent: &HashSet<Uuid>,
    mode: Mode,
) -> Result<Vec<StaleSnapshot>, ReconcileError> {
    let read_at = Utc::now();
    let recorded = cx.db.run(snapshots_q::all).await?;
    let mut stale = Vec::new();
    let mut vms: Vec<Uuid> = recorded.iter().map(|r| r.vm_uuid).collect();
    vms.dedup();
    for vm in vms {
        let Some(row) = rows.iter().find(|row| row.uuid == vm) else {
            continue;
        };
        let names: Vec<&str> = recorded
            .iter()
            .filter(|r| r.vm_uuid == vm)
            .map(|r| r.name.as_str())
            .collect();
        let (existing, reason) = if absent.contains(&vm) {
            (Vec::new(), "the VM's domain is missing")
        } else {
            let Ok(host) = cx.hosts.get(&row.host) else {
                continue;
            };
            match host.snapshot_names(vm).await {
                Ok(found) => (found.names, "deleted outside Limen"),
                Err(HostError::NoDomain) => (Vec::new(), "the VM's domain is missing"),
                // One VM's snapshots unreadable now: the rest of the report still stands.
                Err(error) => {
                    tracing::warn!(%vm, error = %crate::error::chain(&error), "could not read a VM's snapshots");
                    continue;
                }
            }
        };
        let gone: Vec<&str> = names
            .into_iter()
            .filter(|name| !existing.iter().any(|e| e == name))
            .collect();
        if gone.is_empty() {
            continue;
        }
        stale.extend(gone.iter().map(|name| StaleSnapshot {
            vm: VmId(vm),
            vm_name: row.name.clone(),
            name: (*name).to_string(),
            reason: reason.into(),
        }));
        if mode == Mode::Repair && !absent.contains(&vm) {
            cx.db
                .run(move |conn| snapshots_q::keep_only(conn, vm, &existing, read_at).map(drop))
                .await?;
        }
    }
    Ok(stale)
}

/// The disk file an operation works on, as its kind reads its parameters.
fn disk_of(op: &OperationRow) -> Option<PathBuf> {
    registry::find(&op.kind)?.disk_of(&op.params).ok().flatten()
}
