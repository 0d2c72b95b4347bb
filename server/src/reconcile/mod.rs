//! Reconciliation (SPEC §6): compare the hypervisor, the database and the disk directory, fix
//! what can be fixed without losing anything (status drift, `missing` marks, cut-off
//! operations), and report the rest for a person to decide (ghost domains to adopt, records to
//! remove, orphan disks). Nothing is deleted here.

pub mod adopt;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use app::error::AppError;
use app::report::{GhostVm, MissingVm, OperationOutcome, OrphanDisk, ReconcileReport, StatusDrift};
use app::types::{VmId, VmStatus};
use chrono::Utc;
use uuid::Uuid;

use crate::db::{operations as ops_q, vms as q};
use crate::error::{db_error, host_error};
use crate::live::monitor::{publish_observation, records_follow_view};
use crate::live::VmChange;
use crate::ops::{self, OpContext};

/// What to do with operations found unfinished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operations {
    /// Finish or undo them (the server does this: it knows which ones it is running).
    Recover,
    /// Only list them (the CLI while a server may be running them).
    ListOnly,
}

pub async fn reconcile(
    cx: &OpContext,
    operations: Operations,
) -> Result<ReconcileReport, AppError> {
    let started_at = Utc::now();
    let clock = Instant::now();

    // Cut-off operations first: finishing one may remove a record, a domain or a disk.
    let operations: Vec<OperationOutcome> = match operations {
        Operations::Recover => ops::recover(cx)
            .await?
            .into_iter()
            .map(|done| OperationOutcome {
                operation: done.operation,
                kind: done.kind,
                vm: VmId(done.vm),
                outcome: done.outcome,
            })
            .collect(),
        Operations::ListOnly => cx
            .db
            .run(ops_q::op_unfinished)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|op| OperationOutcome {
                operation: op.id,
                kind: op.kind,
                vm: VmId(op.vm_uuid),
                outcome: "left for the server to recover".into(),
            })
            .collect(),
    };

    // A full listing, whatever the view says: reconcile must not trust a cache.
    // What the listing found changed is published like any event (SPEC §6: corrected and
    // published); records the view already agreed with but that disagree are corrected next.
    let recorded: HashMap<Uuid, (String, VmStatus)> = cx
        .db
        .run(q::vm_list)
        .await
        .map_err(db_error)?
        .into_iter()
        .filter_map(|row| Some((row.uuid, (row.name, row.status.parse().ok()?))))
        .collect();
    let mut drift = Vec::new();
    for change in cx.host.resync().await.map_err(host_error)? {
        let observed = change.status.unwrap_or(VmStatus::Missing);
        match recorded.get(&change.uuid) {
            Some((_, VmStatus::Creating | VmStatus::Deleting)) | None => {}
            Some((name, recorded)) if *recorded != observed => drift.push(StatusDrift {
                uuid: VmId(change.uuid),
                name: name.clone(),
                recorded: *recorded,
                observed,
            }),
            Some(_) => {}
        }
        publish_observation(cx, change).await;
    }
    drift.extend(records_follow_view(cx).await?);

    if !drift.is_empty() || !operations.is_empty() {
        cx.bus.publish(VmChange::Resync);
    }

    let domains = cx.host.domains().await.map_err(host_error)?.domains;
    let rows = cx.db.run(q::vm_list).await.map_err(db_error)?;
    let recorded: HashSet<_> = rows.iter().map(|row| row.uuid).collect();
    let mut ghosts: Vec<GhostVm> = domains
        .values()
        .filter(|domain| !recorded.contains(&domain.uuid))
        .map(|domain| GhostVm {
            uuid: VmId(domain.uuid),
            name: domain.name.clone(),
            status: domain.status,
        })
        .collect();
    ghosts.sort_by(|a, b| a.name.cmp(&b.name));
    let missing: Vec<MissingVm> = rows
        .iter()
        .filter(|row| row.status == VmStatus::Missing.as_str())
        .map(|row| MissingVm {
            uuid: VmId(row.uuid),
            name: row.name.clone(),
        })
        .collect();

    // A ghost's disk is in use too (adopting it is the point of listing it).
    let mut in_use: Vec<PathBuf> = rows
        .iter()
        .map(|row| PathBuf::from(&row.disk_path))
        .collect();
    for ghost in &ghosts {
        if let Ok(xml) = cx.host.domain_xml(ghost.uuid.0).await {
            if let Ok(definition) = crate::host::definition::parse(&xml) {
                in_use.extend(definition.disk);
            }
        }
    }
    let orphan_disks = orphan_disks(cx, in_use.into_iter()).await?;

    let report = ReconcileReport {
        started_at,
        duration_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        ghosts,
        missing,
        drift,
        orphan_disks,
        operations,
    };
    tracing::info!(
        ghosts = report.ghosts.len(),
        missing = report.missing.len(),
        drift = report.drift.len(),
        orphan_disks = report.orphan_disks.len(),
        operations = report.operations.len(),
        duration_ms = report.duration_ms,
        "reconciled"
    );
    Ok(report)
}

/// Files in the disk directory that no record, no domain and no unfinished operation refers to.
/// The directory is read before the operations, so a create that starts meanwhile is either
/// seen as an operation or its disk is not there yet.
async fn orphan_disks(
    cx: &OpContext,
    in_use: impl Iterator<Item = PathBuf>,
) -> Result<Vec<OrphanDisk>, AppError> {
    let files = cx.disks.files().await.map_err(|e| {
        AppError::new(
            app::error::ErrorCode::Internal,
            format!("Cannot read the disk directory: {e}"),
        )
    })?;
    let mut in_use: HashSet<PathBuf> = in_use.collect();
    // A create still running (or left for recovery) owns its disk before the record shows it.
    for op in cx.db.run(ops_q::op_unfinished).await.map_err(db_error)? {
        if let Some(path) = op.params.get("disk_path").and_then(|p| p.as_str()) {
            in_use.insert(PathBuf::from(path));
        }
    }
    Ok(files
        .into_iter()
        .filter(|(_, path, _)| !in_use.contains(path))
        .map(|(file, _, size)| OrphanDisk { file, size })
        .collect())
}
