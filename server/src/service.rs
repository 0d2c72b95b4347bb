//! The VM service: the one layer every screen and every endpoint goes through (SPEC §3, seed 004).
//! It reads the database (ownership, sizes, history) and the hypervisor (existence, state) and
//! merges them; it is the only writer of both.

use std::path::PathBuf;

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::ports::VmPort;
use app::report::{AdoptRequest, ReconcileReport};
use app::types::{
    BootOrder, CreateVmRequest, DeleteReport, MediaFile, Vm, VmAction, VmId, VmStatus,
};
use app::validate::validate_create;
use async_trait::async_trait;
use uuid::Uuid;

use crate::audit::{AuditLog, Entry};
use crate::auth::quota_report;
use crate::db::models::VmRow;
use crate::db::vms as q;
use crate::error::{db_error, disk_error, host_error, library_error};
use crate::host::disk::image_info;
use crate::host::library::Library;
use crate::host::Observation;
use crate::keyed_locks::{KeyedGuard, KeyedLocks};
use crate::live::list_cache::{CachedList, ListCache};
use crate::live::{monitor, VmChange};
use crate::ops::vm_create::CreateVm;
use crate::ops::vm_delete::DeleteVm;
use crate::ops::{self, OpContext};
use crate::reconcile;

pub struct VmService {
    cx: OpContext,
    isos: Library,
    images: Library,
    /// Operations on one VM run one at a time.
    locks: KeyedLocks<Uuid>,
    /// Creates by one owner run one at a time, so two cannot both fit the last of a quota.
    owners: KeyedLocks<String>,
    list_cache: ListCache,
    audit: AuditLog,
}

async fn fetch_row(cx: &OpContext, id: Uuid) -> Result<VmRow, AppError> {
    cx.db
        .run(move |conn| q::vm_fetch(conn, id))
        .await
        .map_err(db_error)?
        .ok_or_else(AppError::vm_not_found)
}

/// The record, if this caller may see it; another user's VM is "not found", exactly like a VM
/// that does not exist (its existence is not revealed).
async fn visible_row(cx: &OpContext, caller: &Principal, id: Uuid) -> Result<VmRow, AppError> {
    let row = fetch_row(cx, id).await?;
    if caller.may_see(row.owner.as_deref()) {
        Ok(row)
    } else {
        Err(AppError::vm_not_found())
    }
}

/// [`current`], for a caller who may see the VM.
async fn visible(cx: &OpContext, caller: &Principal, id: Uuid) -> Result<Vm, AppError> {
    let row = visible_row(cx, caller, id).await?;
    let live = cx.host.domain_status(row.uuid).await.map_err(host_error)?;
    Ok(merge(row, live))
}

/// The record merged with the live view's state of its domain.
async fn current(cx: &OpContext, id: Uuid) -> Result<Vm, AppError> {
    let row = fetch_row(cx, id).await?;
    let live = cx.host.domain_status(row.uuid).await.map_err(host_error)?;
    Ok(merge(row, live))
}

/// Records (and, if it is news, publishes) what the hypervisor said; returns the VM as it is.
async fn record_observation(cx: &OpContext, observation: Observation) -> Result<Vm, AppError> {
    let id = observation.uuid;
    monitor::publish_observation(cx, observation).await;
    current(cx, id).await
}

/// Runs `work` in a task of its own holding `guards` (the VM's lock, a quota lock), and writes
/// its audit entry there when it ends: once started, an operation is neither cut off nor left
/// unaudited when the client that asked for it goes away (its dropped request would otherwise
/// stop it between two steps), and a shutdown waits for it.
async fn detached<T, G, F, E>(
    cx: &OpContext,
    guards: G,
    audit: (&AuditLog, E),
    work: F,
) -> Result<T, AppError>
where
    T: Send + 'static,
    G: Send + 'static,
    F: std::future::Future<Output = Result<T, AppError>> + Send + 'static,
    E: FnOnce(&Result<T, AppError>) -> Entry + Send + 'static,
{
    let (log, entry) = (audit.0.clone(), audit.1);
    cx.tasks
        .spawn(async move {
            let _guards = guards;
            let result = work.await;
            log.record(entry(&result)).await;
            result
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "an operation task failed");
            AppError::new(ErrorCode::Internal, "The operation was interrupted.")
        })?
}

/// A record with the hypervisor's word on it. Operations in progress keep their own status;
/// a record whose domain is gone is `missing`.
pub(crate) fn merge(row: VmRow, live: Option<VmStatus>) -> Vm {
    let recorded: VmStatus = row.status.parse().unwrap_or(VmStatus::Unknown);
    let status = match (recorded, live) {
        (VmStatus::Creating | VmStatus::Deleting, _) => recorded,
        (_, Some(observed)) => observed,
        (_, None) => VmStatus::Missing,
    };
    Vm {
        uuid: VmId(row.uuid),
        name: row.name,
        owner: row.owner,
        status,
        cpu: u32::try_from(row.vcpus).unwrap_or(0),
        memory: u64::try_from(row.memory_mib).unwrap_or(0),
        disk_size: u64::try_from(row.disk_size_gb).unwrap_or(0),
        os_type: row.os_type,
        boot_order: row.boot_order.parse().unwrap_or_default(),
        installation_status: row.installation_status.parse().unwrap_or_default(),
        current_media: row.current_media,
        role: row.role,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

impl VmService {
    pub fn new(cx: OpContext, isos: Library, images: Library, audit: AuditLog) -> Self {
        Self {
            cx,
            isos,
            images,
            locks: KeyedLocks::default(),
            owners: KeyedLocks::default(),
            list_cache: ListCache::default(),
            audit,
        }
    }

    /// Every VM: records merged with the live view, computed once per change (the REST list,
    /// the server function and every stream's snapshot share it).
    pub async fn list(&self) -> Result<CachedList, AppError> {
        let version = self.cx.bus.last_id();
        if let Some(list) = self.list_cache.get(version) {
            return Ok(list);
        }
        let (rows, live) = tokio::join!(self.cx.db.run(q::vm_list), self.cx.host.domains());
        let rows = rows.map_err(db_error)?;
        let live = live.map_err(host_error)?;
        let vms = rows
            .into_iter()
            .map(|row| {
                let status = live.domains.get(&row.uuid).map(|domain| domain.status);
                merge(row, status)
            })
            .collect();
        let list = CachedList::new(vms);
        // Kept only if nothing was published meanwhile (it might not be in it).
        if self.cx.bus.last_id() == version {
            self.list_cache.put(version, list.clone());
        }
        Ok(list)
    }

    /// The ISO named in a create request, resolved in the library.
    async fn resolve_iso(&self, name: Option<&str>) -> Result<Option<(String, PathBuf)>, AppError> {
        let Some(name) = name else { return Ok(None) };
        let path = self.isos.resolve(name).await.map_err(library_error)?;
        Ok(Some((name.to_string(), path)))
    }

    /// The base image named in a create request: its path and format, checked to fit the disk.
    async fn resolve_image(
        &self,
        name: Option<&str>,
        disk_size_gib: u64,
    ) -> Result<Option<(PathBuf, String)>, AppError> {
        let Some(name) = name else { return Ok(None) };
        let path = self.images.resolve(name).await.map_err(library_error)?;
        let info = image_info(&path).await.map_err(disk_error)?;
        let gib = 1u64 << 30;
        if disk_size_gib.saturating_mul(gib) < info.virtual_size {
            return Err(AppError::validation(format!(
                "The image \"{name}\" is {} GiB; the disk must be at least that large.",
                info.virtual_size.div_ceil(gib)
            )));
        }
        Ok(Some((path, info.format)))
    }

    /// What sagas run against (also used by `ops::recover` at start).
    pub fn context(&self) -> &OpContext {
        &self.cx
    }

    async fn check_host_limits(&self, request: &CreateVmRequest) -> Result<(), AppError> {
        let limits = self.cx.host.node_limits().await.map_err(host_error)?;
        if request.cpu > limits.cpus {
            return Err(AppError::validation(format!(
                "This host has {} CPUs; a VM cannot have {} vCPUs.",
                limits.cpus, request.cpu
            )));
        }
        if request.memory > limits.memory_mib {
            return Err(AppError::validation(format!(
                "This host has {} MiB of memory; a VM cannot have {} MiB.",
                limits.memory_mib, request.memory
            )));
        }
        Ok(())
    }
}

/// What a create needs once its request was checked and its quota reserved.
struct PreparedCreate {
    saga: CreateVm,
    /// The owner's quota lock (held until the record is written and the operation ends) and the
    /// new VM's lock (so a delete of it waits for the create).
    guards: (KeyedGuard<String>, KeyedGuard<Uuid>),
}

/// The steps behind each call.
impl VmService {
    /// Checks a create against the rules, the quota, the host and the names in use. The owner's
    /// quota lock is taken here and handed on: two creates cannot both fit the last of a quota.
    async fn prepare_create(
        &self,
        owner: &str,
        request: &CreateVmRequest,
    ) -> Result<PreparedCreate, AppError> {
        validate_create(request)?;
        let quota_guard = self.owners.lock(&owner.to_string()).await;
        let quota = quota_report(&self.cx.db, owner).await?;
        if let Some(refusal) = quota.refusal(request.cpu, request.memory, request.disk_size) {
            return Err(AppError::new(ErrorCode::QuotaExceeded, refusal));
        }
        self.check_host_limits(request).await?;
        let iso = self.resolve_iso(request.iso.as_deref()).await?;
        let base_image = self
            .resolve_image(request.image.as_deref(), request.disk_size)
            .await?;
        let name = request.name.clone();
        let taken = self
            .cx
            .db
            .run(move |conn| q::vm_name_taken(conn, &name))
            .await
            .map_err(db_error)?;
        let foreign = self
            .cx
            .host
            .domain_name_exists(request.name.clone())
            .await
            .map_err(host_error)?;
        if taken || foreign {
            // Domain names are global to the host, so this says no more than libvirt would.
            return Err(AppError::new(
                ErrorCode::VmAlreadyExists,
                format!(
                    "The name \"{}\" is taken on this host (VM names are unique across all users).",
                    request.name
                ),
            ));
        }
        let domain_type = self.cx.host.domain_type().await.map_err(host_error)?;
        let id = Uuid::new_v4();
        let saga = CreateVm {
            vm: id,
            name: request.name.clone(),
            owner: Some(owner.to_string()),
            cpu: request.cpu,
            memory_mib: request.memory,
            disk_size_gib: request.disk_size,
            os_type: request.os_type.clone().unwrap_or_else(|| "linux".into()),
            boot_order: request.boot_order.unwrap_or(BootOrder::CdromHd),
            disk_path: self.cx.disks.path_for(id),
            domain_type,
            start: request.start,
            iso,
            base_image,
        };
        let vm_guard = self.locks.lock(&id).await;
        Ok(PreparedCreate {
            saga,
            guards: (quota_guard, vm_guard),
        })
    }

    fn audited<T, E>(&self, entry: E) -> (&AuditLog, E)
    where
        E: FnOnce(&Result<T, AppError>) -> Entry,
    {
        (&self.audit, entry)
    }
}

/// Runs a prepared create's saga; a failure is withdrawn from every client's list.
async fn run_create(cx: OpContext, saga: CreateVm) -> Result<Vm, AppError> {
    let id = saga.vm;
    if let Err(failure) = ops::execute(&cx, Uuid::new_v4(), &saga).await {
        // A snapshot taken meanwhile may show it `creating`: it is gone.
        cx.bus.publish(VmChange::Deleted {
            uuid: VmId(id),
            owner: saga.owner.clone(),
        });
        return Err(ops::creation_failed(failure));
    }
    tracing::info!(%id, name = %saga.name, "VM created");
    let vm = current(&cx, id).await?;
    cx.bus.publish(VmChange::Created(vm.clone()));
    Ok(vm)
}

async fn act(cx: OpContext, caller: Principal, id: VmId, action: VmAction) -> Result<Vm, AppError> {
    let vm = visible(&cx, &caller, id.0).await?;
    if !action.allowed_in(vm.status) {
        return Err(AppError::new(
            ErrorCode::InvalidState,
            format!(
                "Cannot {} \"{}\" while it is {}.",
                action.as_str(),
                vm.name,
                vm.status.label().to_lowercase()
            ),
        ));
    }
    match cx.host.act(id.0, action).await {
        Ok(observation) => record_observation(&cx, observation).await,
        Err(error) => {
            // Whatever happened, the record ends with what the hypervisor now says.
            let app_error = host_error(error);
            if let Ok(observation) = cx.host.observe(id.0).await {
                let _ = record_observation(&cx, observation).await;
            }
            Err(app_error)
        }
    }
}

async fn forget(cx: OpContext, caller: Principal, id: VmId) -> Result<(), AppError> {
    if !caller.is_admin() {
        return Err(AppError::admin_only());
    }
    let row = fetch_row(&cx, id.0).await?;
    // Checked again now, under the VM's lock: the report may be old.
    if cx
        .host
        .observe(id.0)
        .await
        .map_err(host_error)?
        .status
        .is_some()
    {
        return Err(AppError::new(
            ErrorCode::InvalidState,
            format!(
                "libvirt has the domain of \"{}\" again: it is not missing. Run reconcile again.",
                row.name
            ),
        ));
    }
    cx.db
        .run(move |conn| q::vm_delete(conn, id.0))
        .await
        .map_err(db_error)?;
    tracing::info!(uuid = %id, name = %row.name, "record of a missing VM removed");
    cx.bus.publish(VmChange::Deleted {
        uuid: id,
        owner: row.owner,
    });
    Ok(())
}

async fn delete(cx: OpContext, caller: Principal, id: VmId) -> Result<DeleteReport, AppError> {
    let row = visible_row(&cx, &caller, id.0).await?;
    let saga = DeleteVm {
        vm: id.0,
        disk_path: row.disk_path.into(),
    };
    let leftovers = ops::execute(&cx, Uuid::new_v4(), &saga)
        .await
        .map_err(|failure| failure.cause)?;
    cx.bus.publish(VmChange::Deleted {
        uuid: id,
        owner: row.owner.clone(),
    });
    tracing::info!(uuid = %id, name = %row.name, leftovers = leftovers.len(), "VM deleted");
    Ok(DeleteReport {
        uuid: id,
        leftovers,
    })
}

/// An admin's adopt: the named owner (else the admin) must be a user.
async fn adopt(
    cx: OpContext,
    caller: Principal,
    mut request: AdoptRequest,
) -> Result<Vm, AppError> {
    if !caller.is_admin() {
        return Err(AppError::admin_only());
    }
    let owner = request
        .owner
        .get_or_insert_with(|| caller.username.clone())
        .clone();
    let lookup = owner.clone();
    let exists = cx
        .db
        .run(move |conn| crate::db::users::user_fetch(conn, &lookup))
        .await
        .map_err(db_error)?
        .is_some();
    if !exists {
        return Err(AppError::validation(format!(
            "There is no user named \"{owner}\" to own the VM."
        )));
    }
    reconcile::adopt::adopt(&cx, request).await
}

fn vm_target(id: VmId) -> String {
    id.0.to_string()
}

#[async_trait]
impl VmPort for VmService {
    async fn list_vms(&self, caller: &Principal) -> Result<Vec<Vm>, AppError> {
        let list = self.list().await?;
        Ok(list
            .vms
            .iter()
            .filter(|vm| caller.may_see(vm.owner.as_deref()))
            .cloned()
            .collect())
    }

    async fn list_isos(&self, _caller: &Principal) -> Result<Vec<MediaFile>, AppError> {
        self.isos.list().await.map_err(library_error)
    }

    async fn list_images(&self, _caller: &Principal) -> Result<Vec<MediaFile>, AppError> {
        self.images.list().await.map_err(library_error)
    }

    async fn get_vm(&self, caller: &Principal, id: VmId) -> Result<Vm, AppError> {
        visible(&self.cx, caller, id.0).await
    }

    async fn create_vm(
        &self,
        caller: &Principal,
        request: CreateVmRequest,
    ) -> Result<Vm, AppError> {
        let entry = Entry::by(caller, "vm.create")
            .target(request.name.clone())
            .detail(format!(
                "{} vCPU, {} MiB, {} GiB",
                request.cpu, request.memory, request.disk_size
            ));
        let prepared = match self.prepare_create(&caller.username, &request).await {
            Ok(prepared) => prepared,
            Err(error) => {
                let refused = Err(error);
                self.audit.record(entry.outcome(&refused)).await;
                return refused;
            }
        };
        let audit = self.audited(move |result: &Result<Vm, AppError>| match result {
            Ok(vm) => entry.target(format!("{} ({})", vm.name, vm.uuid.0)),
            Err(_) => entry.outcome(result),
        });
        let cx = self.cx.clone();
        detached(
            &self.cx,
            prepared.guards,
            audit,
            run_create(cx, prepared.saga),
        )
        .await
    }

    async fn act_on_vm(
        &self,
        caller: &Principal,
        id: VmId,
        action: VmAction,
    ) -> Result<Vm, AppError> {
        let entry = Entry::by(caller, action.audit_name()).target(vm_target(id));
        let guard = self.locks.lock(&id.0).await;
        let work = act(self.cx.clone(), caller.clone(), id, action);
        detached(&self.cx, guard, self.audited(|r| entry.outcome(r)), work).await
    }

    async fn delete_vm(&self, caller: &Principal, id: VmId) -> Result<DeleteReport, AppError> {
        let entry = Entry::by(caller, "vm.delete").target(vm_target(id));
        let audit = self.audited(
            move |result: &Result<DeleteReport, AppError>| match result {
                Ok(report) if !report.leftovers.is_empty() => {
                    entry.detail(format!("left behind: {:?}", report.leftovers))
                }
                _ => entry.outcome(result),
            },
        );
        let guard = self.locks.lock(&id.0).await;
        let work = delete(self.cx.clone(), caller.clone(), id);
        detached(&self.cx, guard, audit, work).await
    }

    async fn reconcile(&self, caller: &Principal) -> Result<ReconcileReport, AppError> {
        let entry = Entry::by(caller, "reconcile.run");
        let audit = self.audited(
            move |result: &Result<ReconcileReport, AppError>| match result {
                Ok(report) => entry.detail(report.summary()),
                Err(_) => entry.outcome(result),
            },
        );
        let (cx, is_admin) = (self.cx.clone(), caller.is_admin());
        let work = async move {
            if !is_admin {
                return Err(AppError::admin_only());
            }
            reconcile::reconcile(&cx, reconcile::Operations::Recover).await
        };
        detached(&self.cx, (), audit, work).await
    }

    async fn adopt_vm(&self, caller: &Principal, request: AdoptRequest) -> Result<Vm, AppError> {
        let entry = Entry::by(caller, "vm.adopt").target(vm_target(request.uuid));
        let guard = self.locks.lock(&request.uuid.0).await;
        let work = adopt(self.cx.clone(), caller.clone(), request);
        detached(&self.cx, guard, self.audited(|r| entry.outcome(r)), work).await
    }

    async fn forget_vm(&self, caller: &Principal, id: VmId) -> Result<(), AppError> {
        let entry = Entry::by(caller, "vm.forget").target(vm_target(id));
        let guard = self.locks.lock(&id.0).await;
        let work = forget(self.cx.clone(), caller.clone(), id);
        detached(&self.cx, guard, self.audited(|r| entry.outcome(r)), work).await
    }
}
