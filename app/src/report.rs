//! Wire types of reconciliation (SPEC §6): what the hypervisor and the database disagreed on,
//! and what was done about it. Nothing in a report was deleted silently.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::types::{VmId, VmStatus};

/// What a reconciliation found, and what it did about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReconcileReport {
    pub started_at: DateTime<Utc>,
    /// How long it took, milliseconds.
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
    #[cfg_attr(feature = "ssr", schema(required))]
    pub stale_snapshots: Vec<StaleSnapshot>,
    /// Hosts that could not be reached: nothing of theirs was checked (their VMs are neither
    /// missing nor drifted, and no disk is called an orphan while one is unreachable).
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(required))]
    pub unreachable_hosts: Vec<UnreachableHost>,
}

/// A host a reconcile could not reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UnreachableHost {
    pub host: String,
    /// Why, in words.
    pub reason: String,
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

/// A snapshot record (who took it) left over from a snapshot libvirt no longer has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StaleSnapshot {
    /// The VM the snapshot was of.
    pub vm: VmId,
    pub vm_name: String,
    /// The snapshot's name.
    pub name: String,
    /// Why libvirt has no such snapshot, in words.
    pub reason: String,
}

/// A domain libvirt has and Limen has no record of: it can be adopted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GhostVm {
    pub uuid: VmId,
    /// The domain's name in libvirt.
    pub name: String,
    /// Its status as libvirt reports it.
    pub status: VmStatus,
}

/// A VM whose libvirt domain is gone: marked `missing`, it can be forgotten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MissingVm {
    pub uuid: VmId,
    pub name: String,
}

/// A VM whose recorded status differed from libvirt's: corrected to libvirt's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatusDrift {
    pub uuid: VmId,
    pub name: String,
    /// The status Limen had recorded.
    pub recorded: VmStatus,
    /// The status libvirt reported (the VM's status now).
    pub observed: VmStatus,
}

/// A file in the disk directory that no VM uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OrphanDisk {
    /// The file's name inside the disk directory.
    pub file: String,
    /// Bytes.
    pub size: u64,
}

/// An operation that was cut off (by a crash or an outage), and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OperationOutcome {
    /// The operation's id.
    pub operation: Uuid,
    /// What the operation did (`vm_create`, `vm_delete`, …).
    pub kind: String,
    /// The VM it worked on.
    pub vm: VmId,
    /// `undone`, `finished`, or `failed: …`.
    pub outcome: String,
}

/// `POST /api/v1/reconcile/forget`: remove the record of a missing VM, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ForgetRequest {
    /// The missing VM's UUID.
    pub uuid: VmId,
}

/// `POST /api/v1/reconcile/adopt`: take a ghost domain under Limen's management.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AdoptRequest {
    /// The ghost domain's UUID.
    pub uuid: VmId,
    /// The user it will belong to; absent or `null`: nobody (only admins see it).
    #[serde(default)]
    pub owner: Option<String>,
    /// Its role (a free label); absent or `null`: none.
    #[serde(default)]
    pub role: Option<String>,
}
