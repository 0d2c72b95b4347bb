//! Adopting a ghost: a domain libvirt has and Limen has no record of gets a record made from
//! its own definition, after which it is listed and managed like any other VM (seed 004: one
//! source of truth for listing and for every action).

use std::path::Path;
use std::time::Duration;

use app::error::{AppError, ErrorCode};
use app::report::AdoptRequest;
use app::types::{BootOrder, InstallationStatus, Vm};
use app::validate::{validate_label, validate_vm_name};

use super::ReconcileError;
use crate::context::Context;
use crate::db::models::NewVmRow;
use crate::db::vms as q;
use crate::host::definition;
use crate::host::disk::image_info;
use crate::host::{Host, HostError};
use crate::live::VmChange;

/// Takes the ghost domain `request.uuid` of `host` under management. The caller has checked
/// who may (admins) and that the owner exists.
pub async fn adopt(
    cx: &Context,
    host: &std::sync::Arc<Host>,
    request: AdoptRequest,
) -> Result<Vm, ReconcileError> {
    let refused = ReconcileError::Refused;
    if let Some(owner) = &request.owner {
        validate_label("The owner", owner).map_err(refused)?;
    }
    if let Some(role) = &request.role {
        validate_label("The role", role).map_err(refused)?;
    }
    let id = request.uuid.0;
    let xml = match host.domain_xml(id).await {
        Ok(xml) => xml,
        Err(HostError::NoDomain) => {
            return Err(refused(AppError::new(
                ErrorCode::VmNotFound,
                "libvirt has no domain with this UUID.",
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let domain = definition::parse(&xml).map_err(|e| {
        tracing::info!(%id, error = %e, "an adopted domain's definition cannot be read");
        refused(AppError::validation(
            "The domain's definition cannot be read (the server log says why).",
        ))
    })?;
    validate_vm_name(&domain.name).map_err(|e| {
        refused(AppError::validation(format!(
            "{} Rename the domain first (virsh domrename).",
            e.message
        )))
    })?;
    let disk_size_gb = match &domain.disk {
        Some(path) => disk_size_gib(path).await,
        None => 0,
    };
    let observed = host.observe(id).await?;
    let status = observed.status.ok_or_else(|| {
        refused(AppError::new(
            ErrorCode::VmNotFound,
            "The domain went away while being adopted.",
        ))
    })?;
    let row = NewVmRow {
        uuid: id,
        name: domain.name.clone(),
        owner: request.owner,
        vcpus: i32::try_from(domain.vcpus).unwrap_or(i32::MAX),
        memory_mib: i64::try_from(domain.memory_mib).unwrap_or(i64::MAX),
        disk_size_gb: i64::try_from(disk_size_gb).unwrap_or(i64::MAX),
        disk_path: domain
            .disk
            .as_ref()
            .map(|path| path.to_string_lossy().into_owned())
            .unwrap_or_default(),
        os_type: "linux".into(),
        boot_order: domain.boot_order,
        // A domain set to boot from its disk is taken to have a system on it.
        installation_status: match domain.boot_order {
            BootOrder::Hd | BootOrder::HdCdrom => InstallationStatus::Installed,
            BootOrder::CdromHd | BootOrder::Cdrom => InstallationStatus::NotInstalled,
        },
        current_media: domain
            .cdrom
            .as_deref()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned()),
        role: request.role,
        status,
        status_generation: i64::try_from(observed.generation).unwrap_or(i64::MAX),
        host: host.key().to_string(),
        generation: host.fresh_generation(),
        base_image: None,
    };
    let name = domain.name.clone();
    let row = cx
        .db
        .run(move |conn| q::vm_insert(conn, &row))
        .await
        .map_err(|e| {
            let message = if e.is_unique_violation(q::VMS_NAME_KEY) {
                format!("Another VM is already named \"{name}\".")
            } else if e.is_unique_violation(q::VMS_PKEY) {
                "This domain is already managed by Limen.".to_string()
            } else {
                return e.into();
            };
            refused(AppError::new(ErrorCode::VmAlreadyExists, message))
        })?;
    let name = domain.name;
    tracing::info!(%id, %name, "domain adopted");
    // Events for it before the record existed had nothing to update: look once more.
    let live = match host.observe(id).await {
        Ok(observation) => observation.live_state(),
        Err(_) => observed.live_state(),
    };
    let vm = row.into_vm(live);
    cx.bus.publish(VmChange::Created(vm.clone()));
    Ok(vm)
}

/// The disk's virtual size in GiB (rounded up); 0 if it cannot be read (the record still
/// shows the path). The path comes from a definition anyone with libvirt access wrote, so
/// `qemu-img` only ever sees an absolute path to a regular file, and only for a while.
async fn disk_size_gib(path: &Path) -> u64 {
    let regular = path.is_absolute()
        && tokio::fs::metadata(path)
            .await
            .is_ok_and(|metadata| metadata.is_file());
    if !regular {
        tracing::warn!(path = %path.display(), "an adopted disk is not a regular file; size unknown");
        return 0;
    }
    match tokio::time::timeout(Duration::from_secs(10), image_info(path)).await {
        Ok(Ok(info)) => info.virtual_size.div_ceil(1 << 30),
        Ok(Err(error)) => {
            tracing::warn!(path = %path.display(), %error, "cannot read an adopted disk's size");
            0
        }
        Err(_) => {
            tracing::warn!(path = %path.display(), "reading an adopted disk's size timed out");
            0
        }
    }
}
