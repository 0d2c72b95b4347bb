//! The VM service: the one layer every screen and every endpoint goes through (SPEC §3, seed 004).
//! It reads the database (ownership, sizes, history) and the hypervisor (existence, state) and
//! merges them; it is the only writer of both.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use app::error::{AppError, ErrorCode};
use app::ports::VmPort;
use app::types::{BootOrder, CreateVmRequest, DeleteReport, Vm, VmAction, VmId, VmStatus};
use app::validate::validate_create;
use async_trait::async_trait;
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use crate::db::models::{NewVmRow, VmRow};
use crate::db::{vms as q, Db};
use crate::error::{chain, db_error, disk_error, host_error};
use crate::host::disk::DiskStore;
use crate::host::domain_xml::DomainSpec;
use crate::host::{DomainSummary, Host};

/// Serializes operations on one VM; operations on different VMs run in parallel.
#[derive(Default)]
struct VmLocks(Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>);

impl VmLocks {
    async fn lock(&self, id: Uuid) -> OwnedMutexGuard<()> {
        let lock = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(map.entry(id).or_default())
        };
        lock.lock_owned().await
    }

    fn forget(&self, id: Uuid) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }
}

pub struct VmService {
    db: Db,
    host: Arc<Host>,
    disks: DiskStore,
    locks: VmLocks,
}

/// A record with the hypervisor's word on it. Operations in progress keep their own status;
/// a record whose domain is gone is `missing`.
fn merge(row: VmRow, live: Option<&DomainSummary>) -> Vm {
    let recorded: VmStatus = row.status.parse().unwrap_or(VmStatus::Unknown);
    let status = match (recorded, live) {
        (VmStatus::Creating | VmStatus::Deleting, _) => recorded,
        (_, Some(domain)) => domain.status,
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

fn creation_failed(step: &str, cause: AppError) -> AppError {
    AppError::new(
        ErrorCode::VmCreationFailed,
        format!(
            "Creating the VM failed at step \"{step}\": {}",
            cause.message
        ),
    )
}

impl VmService {
    pub fn new(db: Db, host: Arc<Host>, disks: DiskStore) -> Self {
        Self {
            db,
            host,
            disks,
            locks: VmLocks::default(),
        }
    }

    async fn fetch_row(&self, id: Uuid) -> Result<VmRow, AppError> {
        self.db
            .run(move |conn| q::vm_fetch(conn, id))
            .await
            .map_err(db_error)?
            .ok_or_else(AppError::vm_not_found)
    }

    async fn current(&self, row: VmRow) -> Result<Vm, AppError> {
        let live = self.host.domain(row.uuid).await.map_err(host_error)?;
        Ok(merge(row, live.as_ref()))
    }

    /// Records what the hypervisor said, and returns the merged VM.
    async fn record_status(&self, id: Uuid, status: VmStatus) -> Result<Vm, AppError> {
        let row = self
            .db
            .run(move |conn| q::vm_update_status(conn, id, status.as_str()))
            .await
            .map_err(db_error)?
            .ok_or_else(AppError::vm_not_found)?;
        self.current(row).await
    }

    async fn check_host_limits(&self, request: &CreateVmRequest) -> Result<(), AppError> {
        let limits = self.host.node_limits().await.map_err(host_error)?;
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

    /// Undo of the record step: best effort, logged. Used only on a failed create.
    async fn remove_record(&self, id: Uuid) {
        if let Err(error) = self.db.run(move |conn| q::vm_delete(conn, id)).await {
            tracing::error!(%id, error = %chain(&error), "could not remove the record of a failed create");
        }
    }

    async fn remove_disk(&self, id: Uuid, path: &std::path::Path) {
        if let Err(error) = self.disks.remove(path).await {
            tracing::error!(%id, error = %chain(&error), "could not remove the disk of a failed create");
        }
    }

    async fn remove_domain(&self, id: Uuid) {
        if let Err(error) = self.host.destroy_and_undefine(id).await {
            tracing::error!(%id, error = %chain(&error), "could not undefine the domain of a failed create");
        }
    }
}

#[async_trait]
impl VmPort for VmService {
    async fn list_vms(&self) -> Result<Vec<Vm>, AppError> {
        let (rows, live) = tokio::join!(self.db.run(q::vm_list), self.host.domains());
        let rows = rows.map_err(db_error)?;
        let live = live.map_err(host_error)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let domain = live.get(&row.uuid);
                merge(row, domain)
            })
            .collect())
    }

    async fn get_vm(&self, id: VmId) -> Result<Vm, AppError> {
        let row = self.fetch_row(id.0).await?;
        self.current(row).await
    }

    async fn create_vm(&self, request: CreateVmRequest) -> Result<Vm, AppError> {
        validate_create(&request)?;
        self.check_host_limits(&request).await?;
        let name = request.name.clone();
        let taken = self
            .db
            .run(move |conn| q::vm_name_taken(conn, &name))
            .await
            .map_err(db_error)?;
        let foreign = self
            .host
            .domain_name_exists(request.name.clone())
            .await
            .map_err(host_error)?;
        if taken || foreign {
            return Err(AppError::new(
                ErrorCode::VmAlreadyExists,
                format!("A VM named \"{}\" already exists.", request.name),
            ));
        }
        let domain_type = self.host.domain_type().await.map_err(host_error)?;

        let id = Uuid::new_v4();
        let disk_path: PathBuf = self.disks.path_for(id);
        let boot_order = request.boot_order.unwrap_or(BootOrder::CdromHd);

        // Step 1: the record, marked `creating` until the domain exists.
        let row = NewVmRow {
            uuid: id,
            name: request.name.clone(),
            owner: None,
            vcpus: i32::try_from(request.cpu)
                .map_err(|_| AppError::validation("Too many vCPUs."))?,
            memory_mib: i64::try_from(request.memory)
                .map_err(|_| AppError::validation("Too much memory."))?,
            disk_size_gb: i64::try_from(request.disk_size)
                .map_err(|_| AppError::validation("The disk is too large."))?,
            disk_path: disk_path.to_string_lossy().into_owned(),
            os_type: request.os_type.clone().unwrap_or_else(|| "linux".into()),
            boot_order: boot_order.as_str().into(),
            status: VmStatus::Creating.as_str().into(),
        };
        if let Err(error) = self.db.run(move |conn| q::vm_insert(conn, &row)).await {
            if error.is_unique_violation(q::VMS_NAME_KEY) {
                return Err(AppError::new(
                    ErrorCode::VmAlreadyExists,
                    format!("A VM named \"{}\" already exists.", request.name),
                ));
            }
            return Err(creation_failed("record", db_error(error)));
        }

        // Step 2: the disk.
        if let Err(error) = self.disks.create_blank(&disk_path, request.disk_size).await {
            self.remove_record(id).await;
            return Err(creation_failed("disk", disk_error(error)));
        }

        // Step 3: the domain.
        let spec = DomainSpec {
            uuid: id,
            name: request.name.clone(),
            domain_type,
            vcpus: request.cpu,
            memory_mib: request.memory,
            disk_path: disk_path.clone(),
            cdrom_path: None,
            boot_order,
        };
        if let Err(error) = self.host.define(spec).await {
            self.remove_domain(id).await;
            self.remove_disk(id, &disk_path).await;
            self.remove_record(id).await;
            return Err(creation_failed("define domain", host_error(error)));
        }

        // Step 4: optionally start. The state recorded is whatever libvirt reports.
        let status = if request.start {
            self.host.act(id, VmAction::Start).await
        } else {
            self.host
                .domain(id)
                .await
                .map(|domain| domain.map_or(VmStatus::Missing, |d| d.status))
        };
        let status = match status {
            Ok(status) => status,
            Err(error) => {
                self.remove_domain(id).await;
                self.remove_disk(id, &disk_path).await;
                self.remove_record(id).await;
                return Err(creation_failed("start", host_error(error)));
            }
        };
        tracing::info!(%id, name = %request.name, "VM created");
        self.record_status(id, status).await
    }

    async fn act_on_vm(&self, id: VmId, action: VmAction) -> Result<Vm, AppError> {
        let _guard = self.locks.lock(id.0).await;
        let current = self.get_vm(id).await?;
        if !action.allowed_in(current.status) {
            return Err(AppError::new(
                ErrorCode::InvalidState,
                format!(
                    "Cannot {} \"{}\" while it is {}.",
                    action.as_str(),
                    current.name,
                    current.status.label().to_lowercase()
                ),
            ));
        }
        match self.host.act(id.0, action).await {
            Ok(status) => self.record_status(id.0, status).await,
            Err(error) => {
                // Whatever happened, the record ends with what the hypervisor now says.
                let app_error = host_error(error);
                if let Ok(Some(domain)) = self.host.domain(id.0).await {
                    let _ = self.record_status(id.0, domain.status).await;
                }
                Err(app_error)
            }
        }
    }

    async fn delete_vm(&self, id: VmId) -> Result<DeleteReport, AppError> {
        let _guard = self.locks.lock(id.0).await;
        let row = self.fetch_row(id.0).await?;
        let uuid = id.0;
        self.db
            .run(move |conn| q::vm_update_status(conn, uuid, VmStatus::Deleting.as_str()))
            .await
            .map_err(db_error)?;

        let mut leftovers = Vec::new();
        if let Err(error) = self.host.destroy_and_undefine(uuid).await {
            tracing::error!(%uuid, error = %chain(&error), "delete: domain not removed");
            leftovers.push(format!("The libvirt domain could not be removed: {error}."));
        }
        if let Err(error) = self
            .disks
            .remove(std::path::Path::new(&row.disk_path))
            .await
        {
            tracing::error!(%uuid, error = %chain(&error), "delete: disk not removed");
            leftovers.push(format!("The disk could not be removed: {error}."));
        }
        // The record goes whatever happened above; leftovers are reported (and, once the
        // reconciler exists, found again as ghosts and orphan disks).
        self.db
            .run(move |conn| q::vm_delete(conn, uuid))
            .await
            .map_err(db_error)?;
        self.locks.forget(uuid);
        tracing::info!(%uuid, name = %row.name, leftovers = leftovers.len(), "VM deleted");
        Ok(DeleteReport {
            uuid: id,
            leftovers,
        })
    }
}
