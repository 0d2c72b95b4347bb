//! Wire types of reconciliation (SPEC §6): what the hypervisor and the database disagreed on,
//! and what was done about it. Nothing in a report was deleted silently.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::types::{VmId, VmStatus};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconcileReport {
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    /// Domains libvirt has and the database does not: adoptable.
    pub ghosts: Vec<GhostVm>,
    /// Records whose domain is gone: marked `missing`, removable by an admin.
    pub missing: Vec<MissingVm>,
    /// Records whose status differed from libvirt's: corrected.
    pub drift: Vec<StatusDrift>,
    /// Files in the disk directory no VM uses: listed, never removed.
    pub orphan_disks: Vec<OrphanDisk>,
    /// Operations a crash or outage cut off: finished or undone.
    pub operations: Vec<OperationOutcome>,
    /// Limen's snapshot records (who took a snapshot) for snapshots libvirt no longer has: of
    /// a VM whose domain is missing (they go with its record), or deleted outside Limen
    /// (tidied when repairing). Reports from before snapshots existed have none.
    #[serde(default)]
    pub stale_snapshots: Vec<StaleSnapshot>,
}

impl ReconcileReport {
    /// One line for logs and the audit log: how many of each finding.
    pub fn summary(&self) -> String {
        format!(
            "{} ghosts, {} missing, {} drifted, {} orphan disks, {} operations, {} stale snapshot records",
            self.ghosts.len(),
            self.missing.len(),
            self.drift.len(),
            self.orphan_disks.len(),
            self.operations.len(),
            self.stale_snapshots.len()
        )
    }

    /// Whether hypervisor, database and disks agree (nothing to show).
    pub fn is_clean(&self) -> bool {
        self.ghosts.is_empty()
            && self.missing.is_empty()
            && self.drift.is_empty()
            && self.orphan_disks.is_empty()
            && self.operations.is_empty()
            && self.stale_snapshots.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleSnapshot {
    pub vm: VmId,
    pub vm_name: String,
    /// The snapshot's name.
    pub name: String,
    /// Why libvirt has no such snapshot, in words.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GhostVm {
    pub uuid: VmId,
    pub name: String,
    pub status: VmStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingVm {
    pub uuid: VmId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusDrift {
    pub uuid: VmId,
    pub name: String,
    pub recorded: VmStatus,
    pub observed: VmStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanDisk {
    /// The file's name inside the disk directory.
    pub file: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationOutcome {
    pub operation: Uuid,
    pub kind: String,
    pub vm: VmId,
    /// `undone`, `finished`, or `failed: …`.
    pub outcome: String,
}

/// `POST /api/v1/reconcile/forget`: remove the record of a missing VM, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgetRequest {
    pub uuid: VmId,
}

/// `POST /api/v1/reconcile/adopt`: take a ghost domain under Limen's management.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptRequest {
    pub uuid: VmId,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
}
