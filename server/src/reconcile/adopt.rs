//! Adopting a ghost: a domain libvirt has and Limen has no record of gets a record made from
//! its own definition, after which it is listed and managed like any other VM (seed 004: one
//! source of truth for listing and for every action).

use std::path::Path;
use std::time::Duration;

use app::error::{AppError, ErrorCode};
use app::report::AdoptRequest;
use app::types::{BootOrder, InstallationStatus, Vm};
use app::validate::{validate_label, validate_vm_name};

use crate::db::models::NewVmRow;
use crate::db::vms as q;
use crate::error::{db_error, host_error};
use crate::host::definition;
use crate::host::disk::image_info;
use crate::host::HostError;
use crate::live::VmChange;
use crate::ops::OpContext;
use crate::service::merge;

pub async fn adopt(cx: &OpContext, request: AdoptRequest) -> Result<Vm, AppError> {
    if let Some(owner) = &request.owner {
        validate_label("The owner", owner)?;
    }
    if let Some(role) = &request.role {
        validate_label("The role", role)?;
    }
    let id = request.uuid.0;
    let xml = match cx.host.domain_xml(id).await {
        Ok(xml) => xml,
        Err(HostError::NoDomain) => {
            return Err(AppError::new(
                ErrorCode::VmNotFound,
                "libvirt has no domain with this UUID.",
            ))
        }
        Err(e) => return Err(host_error(e)),
    };
    let domain = definition::parse(&xml).map_err(|e| {
        AppError::validation(format!("The domain's definition cannot be read: {e}."))
    })?;
    validate_vm_name(&domain.name).map_err(|e| {
        AppError::validation(format!(
            "{} Rename the domain first (virsh domrename).",
            e.message
        ))
    })?;
    let disk_size_gb = match &domain.disk {
        Some(path) => disk_size_gib(path).await,
        None => 0,
    };
    let observed = cx.host.observe(id).await.map_err(host_error)?;
    let status = observed.status.ok_or_else(|| {
        AppError::new(
            ErrorCode::VmNotFound,
            "The domain went away while being adopted.",
        )
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
        boot_order: domain.boot_order.as_str().into(),
        // A domain set to boot from its disk is taken to have a system on it.
        installation_status: match domain.boot_order {
            BootOrder::Hd | BootOrder::HdCdrom => InstallationStatus::Installed,
            BootOrder::CdromHd | BootOrder::Cdrom => InstallationStatus::NotInstalled,
        }
        .as_str()
        .into(),
        current_media: domain
            .cdrom
            .as_deref()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned()),
        role: request.role,
        status: status.as_str().into(),
        status_generation: i64::try_from(observed.generation).unwrap_or(i64::MAX),
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
                return db_error(e);
            };
            AppError::new(ErrorCode::VmAlreadyExists, message)
        })?;
    let name = domain.name;
    tracing::info!(%id, %name, "domain adopted");
    // Events for it before the record existed had nothing to update: look once more.
    let live = match cx.host.observe(id).await {
        Ok(observation) => observation.status,
        Err(_) => Some(status),
    };
    let vm = merge(row, live);
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
