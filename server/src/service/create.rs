//! Create (SPEC §4): the request is checked against the rules, the owner's quota, the host and
//! the names in use, then the create saga makes the record, the disk and the domain.

use std::path::PathBuf;

use app::auth::QuotaReport;
use app::error::{AppError, ErrorCode};
use app::machine::boot_check;
use app::types::{BootOrder, CreateVmRequest, Vm};
use app::validate::validate_create;
use uuid::Uuid;

use super::records::current;
use super::{refused, ServiceError, VmService};
use crate::auth::quota_report;
use crate::db::vms as q;
use crate::host::disk::image_info;
use crate::host::NodeLimits;
use crate::keyed_locks::KeyedGuard;
use crate::live::VmChange;
use crate::ops::vm_create::CreateVm;
use crate::ops::Sagas;

/// Whether a valid request fits the owner's quota and the host: the rule, without I/O.
pub(super) fn fits(
    request: &CreateVmRequest,
    quota: &QuotaReport,
    host: NodeLimits,
) -> Result<(), AppError> {
    if let Some(refusal) = quota.refusal(request.cpu, request.memory, request.disk_size) {
        return Err(AppError::new(ErrorCode::QuotaExceeded, refusal));
    }
    if request.cpu > host.cpus {
        return Err(AppError::validation(format!(
            "This host has {} CPUs; a VM cannot have {} vCPUs.",
            host.cpus, request.cpu
        )));
    }
    if request.memory > host.memory_mib {
        return Err(AppError::validation(format!(
            "This host has {} MiB of memory; a VM cannot have {} MiB.",
            host.memory_mib, request.memory
        )));
    }
    Ok(())
}

impl VmService {
    /// Whether a domain Limen does not manage has this name: on the chosen host (which must
    /// answer), or on any other host that answers (VM names are unique across hosts).
    async fn foreign_domain_named(
        &self,
        chosen: &std::sync::Arc<crate::host::Host>,
        name: &str,
    ) -> Result<bool, ServiceError> {
        if chosen.domain_name_exists(name.to_string()).await? {
            return Ok(true);
        }
        for other in self.cx.hosts.all() {
            if other.key() != chosen.key()
                && other.unreachable().is_none()
                && other
                    .domain_name_exists(name.to_string())
                    .await
                    .unwrap_or(false)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// What a create needs once its request was checked and its quota reserved.
pub(super) struct PreparedCreate {
    pub saga: CreateVm,
    /// The owner's quota lock (held until the record is written and the operation ends) and the
    /// new VM's lock (so a delete of it waits for the create).
    pub guards: (KeyedGuard<String>, KeyedGuard<Uuid>),
}

impl VmService {
    /// Checks a create. The owner's quota lock is taken here and handed on: two creates cannot
    /// both fit the last of a quota.
    pub(super) async fn prepare_create(
        &self,
        owner: &str,
        request: &CreateVmRequest,
    ) -> Result<PreparedCreate, ServiceError> {
        validate_create(request).map_err(refused)?;
        let quota_guard = self.owners.lock(&owner.to_string()).await;
        let quota = quota_report(&self.cx.db, owner).await?;
        let host = self.place(request).await?;
        fits(request, &quota, host.node_limits().await?).map_err(refused)?;
        let iso = self.resolve_iso(request.iso.as_deref()).await?;
        let boot_order = request.boot_order.unwrap_or(BootOrder::CdromHd);
        if request.start {
            // As a start of the VM would say: it cannot boot from an empty drive alone.
            boot_check(boot_order, request.iso.as_deref())
                .map_err(|refusal| refused(AppError::new(ErrorCode::InvalidState, refusal)))?;
        }
        let base_image = self
            .resolve_image(request.image.as_deref(), request.disk_size)
            .await?;
        let name = request.name.clone();
        let taken = self
            .cx
            .db
            .run(move |conn| q::vm_name_taken(conn, &name))
            .await?;
        let foreign = self.foreign_domain_named(&host, &request.name).await?;
        if taken || foreign {
            // Domain names are global to the host, so this says no more than libvirt would.
            return Err(refused(AppError::new(
                ErrorCode::VmAlreadyExists,
                format!(
                    "The name \"{}\" is taken on this host (VM names are unique across all users).",
                    request.name
                ),
            )));
        }
        let id = Uuid::new_v4();
        let saga = CreateVm {
            vm: id,
            name: request.name.clone(),
            host: host.key().clone(),
            owner: Some(owner.to_string()),
            cpu: request.cpu,
            memory_mib: request.memory,
            disk_size_gib: request.disk_size,
            os_type: request.os_type.clone().unwrap_or_else(|| "linux".into()),
            boot_order,
            disk_path: self.cx.disks.path_for(id),
            domain_type: host.domain_type().await?,
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

    /// The ISO named in a create request, resolved in the library.
    async fn resolve_iso(
        &self,
        name: Option<&str>,
    ) -> Result<Option<(String, PathBuf)>, ServiceError> {
        let Some(name) = name else { return Ok(None) };
        let path = self.cx.isos.resolve(name).await?;
        Ok(Some((name.to_string(), path)))
    }

    /// The base image named in a create request: its path and format, checked to fit the disk.
    async fn resolve_image(
        &self,
        name: Option<&str>,
        disk_size_gib: u64,
    ) -> Result<Option<(PathBuf, String)>, ServiceError> {
        let Some(name) = name else { return Ok(None) };
        let path = self.cx.images.resolve(name).await?;
        let info = image_info(&path).await?;
        let gib = 1u64 << 30;
        if disk_size_gib.saturating_mul(gib) < info.virtual_size {
            return Err(refused(AppError::validation(format!(
                "The image \"{name}\" is {} GiB; the disk must be at least that large.",
                info.virtual_size.div_ceil(gib)
            ))));
        }
        Ok(Some((path, info.format)))
    }
}

/// Runs a prepared create's saga; a failure is withdrawn from every client's list.
pub(super) async fn run_create(sagas: Sagas, saga: CreateVm) -> Result<Vm, ServiceError> {
    let cx = sagas.context();
    let id = saga.vm;
    if let Err(failure) = sagas.execute(&saga).await {
        // A snapshot taken meanwhile may show it `creating`: it is gone.
        cx.bus.publish(VmChange::Deleted {
            uuid: app::types::VmId(id),
            owner: saga.owner.clone(),
            host: saga.host.clone(),
        });
        return Err(ServiceError::Create(failure));
    }
    tracing::info!(%id, name = %saga.name, "VM created");
    let vm = current(cx, id).await?;
    cx.bus.publish(VmChange::Created(vm.clone()));
    Ok(vm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::auth::{Quota, Usage};

    fn request(cpu: u32, memory: u64) -> CreateVmRequest {
        serde_json::from_value(serde_json::json!({
            "name": "a", "cpu": cpu, "memory": memory, "disk_size": 1
        }))
        .unwrap()
    }

    #[test]
    fn a_create_must_fit_the_quota_and_the_host() {
        let host = NodeLimits {
            cpus: 4,
            memory_mib: 1024,
        };
        let free = QuotaReport {
            limits: Quota::default(),
            used: Usage::default(),
        };
        assert!(fits(&request(4, 1024), &free, host).is_ok());
        assert_eq!(
            fits(&request(5, 512), &free, host).unwrap_err().code,
            ErrorCode::ValidationFailed
        );
        assert_eq!(
            fits(&request(1, 2048), &free, host).unwrap_err().code,
            ErrorCode::ValidationFailed
        );
        let full = QuotaReport {
            limits: Quota {
                max_vms: Some(1),
                ..Quota::default()
            },
            used: Usage {
                vms: 1,
                ..Usage::default()
            },
        };
        assert_eq!(
            fits(&request(1, 128), &full, host).unwrap_err().code,
            ErrorCode::QuotaExceeded
        );
    }
}
