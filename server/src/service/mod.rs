//! The VM service: the one door every screen and endpoint goes through (SPEC §3, seed 004). It
//! decides who may do what and whether it makes sense now, runs the work, and audits it; the
//! writing is done below it — records and domains by the operations (`ops`), observed states by
//! `observed`, reconciliation by `reconcile` — so each store has one writer per kind of change.
//!
//! One file per capability, each verb with its pure "is this allowed now" rule beside it:
//! - `records.rs`: the VM as a caller may see it (another user's VM is "not found");
//! - `list.rs`: every VM, computed once per change;
//! - `create.rs`, `lifecycle.rs` (start, stop, …), `delete.rs`;
//! - `reconciliation.rs`: reconcile, adopt, forget (admins);
//! - `media.rs`: the ISO library and the media in a VM's drive;
//! - `images.rs`: base images made from VMs (templates), running in the background;
//! - `boot.rs`: boot order and installation status;
//! - `disk.rs`: a VM's disk, and growing it;
//! - `roles.rs`: roles, and the list filtered by one;
//! - `snapshots.rs`: a VM's snapshots: list, take, revert, delete;
//! - `stats.rs`: resource statistics: a VM's and the host's graphs, capacity, `/metrics`;
//! - `upload.rs`: ISOs uploaded into the library, streamed to disk;
//! - `console.rs`: who may open a console, the VM made ready for it, tickets, the audit;
//! - `detached.rs`: where a verb runs (detached from its request, holding its locks) and is
//!   audited, and where its error becomes the wire error — once;
//! - `port.rs`: the `VmPort` the REST handlers and the server functions call.

mod boot;
mod console;
mod create;
mod delete;
mod detached;
mod disk;
mod hosts;
mod images;
mod lifecycle;
mod list;
mod media;
mod migrate;
mod placement;
mod port;
mod reconciliation;
mod records;
mod roles;
mod snapshots;
mod stats;
mod upload;

use app::error::{AppError, ErrorCode};
use uuid::Uuid;

use crate::audit::AuditLog;
use crate::context::Context;
use crate::db::DbError;
use crate::error::Describe;
use crate::host::disk::DiskError;
use crate::host::library::LibraryError;
use crate::host::HostError;
use crate::keyed_locks::KeyedLocks;
use crate::live::list_cache::ListCache;
use crate::observed::ObservedError;
use crate::ops::{SagaFailure, Sagas, StepError};
use crate::reconcile::ReconcileError;

pub use console::{ConsoleIo, ConsoleKind, ConsolePermit, VmState};

pub struct VmService {
    cx: Context,
    sagas: Sagas,
    /// Operations on one VM run one at a time.
    locks: KeyedLocks<Uuid>,
    /// Creates by one owner run one at a time, so two cannot both fit the last of a quota.
    owners: KeyedLocks<String>,
    list_cache: ListCache,
    /// Image operations running in the background.
    jobs: images::Jobs,
    /// Snapshot work running now.
    snapshot_works: snapshots::Works,
    audit: AuditLog,
    tickets: console::Tickets,
    console_limits: console::Limits,
    settings: ServiceSettings,
}

/// What the configuration decides about the service's verbs.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSettings {
    /// Whether opening a console starts (or resumes) a VM that is not running.
    pub console_autostart: bool,
    /// The largest ISO an upload may bring.
    pub iso_upload_max_bytes: u64,
    /// How fast making a base image may copy (`None`: no limit).
    pub image_copy_bytes_per_s: Option<u64>,
    /// How many snapshots one VM may have.
    pub max_snapshots_per_vm: u32,
}

impl VmService {
    pub fn new(sagas: Sagas, audit: AuditLog, settings: ServiceSettings) -> Self {
        Self {
            cx: sagas.context().clone(),
            sagas,
            locks: KeyedLocks::default(),
            owners: KeyedLocks::default(),
            list_cache: ListCache::default(),
            jobs: images::Jobs::default(),
            snapshot_works: snapshots::Works::default(),
            audit,
            tickets: console::Tickets::default(),
            console_limits: console::Limits::default(),
            settings,
        }
    }

    /// What operations run with (recovery at start, the periodic reconcile).
    pub fn sagas(&self) -> &Sagas {
        &self.sagas
    }
}

/// Why a verb did not do what was asked. Turned into the wire error once, by `detached` or the
/// port, through [`Describe`].
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A decision for the caller (not allowed, not now, not found): said as it is.
    #[error("{0}")]
    Refused(AppError),
    #[error("reading or writing records failed")]
    Db(#[from] DbError),
    #[error("asking the hypervisor failed")]
    Host(#[from] HostError),
    /// libvirt refused to start (or resume) the VM.
    #[error("the VM did not start")]
    StartFailed(#[source] HostError),
    #[error("reading a disk image failed")]
    Disk(#[from] DiskError),
    #[error("reading a library failed")]
    Library(#[from] LibraryError),
    #[error("creating the VM failed")]
    Create(#[source] SagaFailure),
    #[error("deleting the VM failed")]
    Delete(#[source] SagaFailure),
    #[error("taking the snapshot failed")]
    Snapshot(#[source] SagaFailure),
    #[error("migrating the VM failed")]
    Migrate(#[source] SagaFailure),
    #[error("reconciling failed")]
    Reconcile(#[from] ReconcileError),
}

impl From<ObservedError> for ServiceError {
    fn from(error: ObservedError) -> Self {
        match error {
            ObservedError::Db(error) => ServiceError::Db(error),
            ObservedError::Host(error) => ServiceError::Host(error),
        }
    }
}

impl Describe for ServiceError {
    fn describe(&self) -> AppError {
        match self {
            ServiceError::Refused(error) => error.clone(),
            ServiceError::Db(error) => error.describe(),
            ServiceError::Host(error) => error.describe(),
            ServiceError::StartFailed(error) => {
                let described = error.describe();
                match error {
                    HostError::Libvirt { .. } => {
                        AppError::new(ErrorCode::VmStartFailed, described.message)
                    }
                    _ => described,
                }
            }
            ServiceError::Disk(error) => error.describe(),
            ServiceError::Library(error) => error.describe(),
            ServiceError::Create(failure) => creation_failed(failure),
            ServiceError::Delete(failure) | ServiceError::Snapshot(failure) => {
                failure.cause.describe()
            }
            ServiceError::Migrate(failure) => AppError::new(
                ErrorCode::Internal,
                format!(
                    "Migrating the VM failed at step \"{}\": {} Limen undoes what it had done (at once, or if that fails too, at its next start), so the VM stays where it was.",
                    failure.step,
                    failure.cause.describe().message
                ),
            ),
            ServiceError::Reconcile(error) => error.describe(),
        }
    }
}

/// A failed create: which step, and why; refusals found while checking keep their own code.
fn creation_failed(failure: &SagaFailure) -> AppError {
    let cause = failure.cause.describe();
    match (&failure.cause, cause.code) {
        (StepError::Refused(_), ErrorCode::VmAlreadyExists | ErrorCode::ValidationFailed) => cause,
        _ => AppError::new(
            ErrorCode::VmCreationFailed,
            format!(
                "Creating the VM failed at step \"{}\": {}",
                failure.step, cause.message
            ),
        ),
    }
}

/// A refusal, as a service error.
fn refused(error: AppError) -> ServiceError {
    ServiceError::Refused(error)
}
