//! A VM's install media, boot order, installation status, disk and role (SPEC §8, seed 003).

use std::sync::Arc;

use app::machine::{
    AttachMediaRequest, BootOrderReport, BootOrderRequest, CompleteInstallationRequest, DiskInfo,
    InstallationReport, ResizeDiskRequest, RoleCount, RoleRequest,
};
use app::ports::VmPort;
use app::types::Vm;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;

use super::json::ApiJson;
use super::vms::parse_vm_id;
use crate::auth::extract::Caller;
use crate::error::ApiResult;
use crate::service::VmService;

#[utoipa::path(
    post,
    path = "/api/v1/vms/{uuid}/media/attach",
    operation_id = "attachMedia",
    tag = "machine",
    summary = "Put an ISO from the library in the VM's CD-ROM drive",
    description = "Inserts the named ISO (by its library name, see `GET /api/v1/isos`) into the \
        VM's CD-ROM drive: at once if the VM runs, and in its persistent definition. Replaces \
        what was in the drive. An unknown ISO is 404 `ISO_NOT_FOUND`; a VM with no CD-ROM drive, \
        or one being created or deleted, is 409 `INVALID_STATE`. Any user for their own VMs, an \
        admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    request_body = AttachMediaRequest,
    responses(
        (status = 200, description = "The VM with its new `current_media`.", body = Vm),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "ISO_NOT_FOUND", "INVALID_STATE", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn attach_media(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    ApiJson(request): ApiJson<AttachMediaRequest>,
) -> ApiResult<Json<Vm>> {
    let id = parse_vm_id(&uuid)?;
    Ok(Json(
        vms.change_media(&caller, id, Some(request.iso)).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/vms/{uuid}/media/detach",
    operation_id = "detachMedia",
    tag = "machine",
    summary = "Eject the ISO from the VM's CD-ROM drive",
    description = "Empties the VM's CD-ROM drive, at once if the VM runs and in its persistent \
        definition (an empty drive stays empty). No request body. A VM with no CD-ROM drive, or \
        one being created or deleted, is 409 `INVALID_STATE`. Any user for their own VMs, an \
        admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    responses(
        (status = 200, description = "The VM, its `current_media` now `null`.", body = Vm),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "INVALID_STATE", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn detach_media(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<Vm>> {
    let id = parse_vm_id(&uuid)?;
    Ok(Json(vms.change_media(&caller, id, None).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/vms/{uuid}/boot-order",
    operation_id = "getBootOrder",
    tag = "machine",
    summary = "The VM's boot order",
    description = "The order the firmware tries the devices in, as libvirt's persistent \
        definition says now; `applies_at_next_boot` when the VM runs (the firmware reads it at a \
        cold boot), and a `warning` when the order and the drive do not go together (e.g. \
        `cdrom` with an empty drive). Any user for their own VMs, an admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    responses(
        (status = 200, description = "The boot order.", body = BootOrderReport),
    ),
    extensions(("x-error-codes" = json!(["VM_NOT_FOUND", "HYPERVISOR_UNAVAILABLE"]))),
)]
pub async fn boot_order(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<BootOrderReport>> {
    Ok(Json(vms.boot_order(&caller, parse_vm_id(&uuid)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/vms/{uuid}/boot-order",
    operation_id = "setBootOrder",
    tag = "machine",
    summary = "Change the VM's boot order",
    description = "Writes the boot order into the VM's persistent definition; a running VM uses \
        it from its next cold boot (a stop and a start, not a reboot). A VM being created or \
        deleted is 409 `INVALID_STATE`. Any user for their own VMs, an admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    request_body = BootOrderRequest,
    responses(
        (status = 200, description = "The boot order as libvirt now has it.",
            body = BootOrderReport),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "INVALID_STATE", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn set_boot_order(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    ApiJson(request): ApiJson<BootOrderRequest>,
) -> ApiResult<Json<BootOrderReport>> {
    let id = parse_vm_id(&uuid)?;
    Ok(Json(
        vms.set_boot_order(&caller, id, request.boot_order).await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/vms/{uuid}/installation-status",
    operation_id = "getInstallationStatus",
    tag = "machine",
    summary = "The VM's installation status",
    description = "Whether the guest's operating system is installed (Limen's own record: a \
        first start from the install media makes it `Installing`; the user marks it done or \
        failed), with the boot order, the media in the drive and the suggested next steps (boot \
        from disk, eject the ISO). Any user for their own VMs, an admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    responses(
        (status = 200, description = "The installation status.", body = InstallationReport),
    ),
    extensions(("x-error-codes" = json!(["VM_NOT_FOUND"]))),
)]
pub async fn installation(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<InstallationReport>> {
    Ok(Json(vms.installation(&caller, parse_vm_id(&uuid)?).await?))
}

/// No body (or `{}`): the installation succeeded; `{"failed": true}`: it failed.
#[utoipa::path(
    post,
    path = "/api/v1/vms/{uuid}/complete-installation",
    operation_id = "completeInstallation",
    tag = "machine",
    summary = "Mark the VM's installation done, or failed",
    description = "No body (or `{}`): the installation succeeded; `{\"failed\": true}`: it \
        failed (it can be started again from the media). Marking it done never changes the boot \
        order or the media by itself: the answer's `suggestions` say what to change. Marking \
        again what it already is changes nothing; marking a finished installation failed is 409 \
        `INVALID_STATE`, as is a VM being created or deleted. The body is read as JSON whatever \
        its `Content-Type`. Any user for their own VMs, an admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    request_body(
        content = CompleteInstallationRequest,
        description = "Optional: no body means the installation succeeded.",
    ),
    responses(
        (status = 200, description = "The installation status now.", body = InstallationReport),
    ),
    extensions(("x-error-codes" = json!(["VM_NOT_FOUND", "INVALID_STATE"]))),
)]
pub async fn complete_installation(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    body: Bytes,
) -> ApiResult<Json<InstallationReport>> {
    let id = parse_vm_id(&uuid)?;
    let request: CompleteInstallationRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CompleteInstallationRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| {
            app::error::AppError::validation(format!("The request body is not valid: {error}."))
        })?
    };
    Ok(Json(
        vms.complete_installation(&caller, id, request.failed)
            .await?,
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/vms/{uuid}/disk",
    operation_id = "getDisk",
    tag = "machine",
    summary = "The VM's system disk",
    description = "The disk image as `qemu-img` reads it: format, the size the guest sees, what \
        it takes on the host, the base image it is a clone of, and where it lies inside the data \
        directory. Any user for their own VMs, an admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    responses(
        (status = 200, description = "The disk.", body = DiskInfo),
    ),
    extensions(("x-error-codes" = json!(["VM_NOT_FOUND"]))),
)]
pub async fn disk(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<DiskInfo>> {
    Ok(Json(vms.disk(&caller, parse_vm_id(&uuid)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/vms/{uuid}/disk/resize",
    operation_id = "resizeDisk",
    tag = "machine",
    summary = "Grow the VM's system disk",
    description = "Grows the disk to `size_gb` GiB: online through libvirt when the VM runs (the \
        guest sees the new size at once; its partitions and filesystem are the guest's to grow), \
        with `qemu-img` when it does not. A disk never shrinks: a size not larger than the \
        current one is 400 `VALIDATION_FAILED`. The growth counts against the owner's disk quota \
        (403 `QUOTA_EXCEEDED`). 409 `INVALID_STATE` for a disk Limen did not create (an adopted \
        VM's), a VM being created or deleted, or one whose disk is being copied into a base \
        image; 507 `INSUFFICIENT_STORAGE` when the host's filesystem is full. Any user for their \
        own VMs, an admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    request_body = ResizeDiskRequest,
    responses(
        (status = 200, description = "The disk at its new size.", body = DiskInfo),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "INVALID_STATE", "QUOTA_EXCEEDED", "INSUFFICIENT_STORAGE",
        "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn resize_disk(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    ApiJson(request): ApiJson<ResizeDiskRequest>,
) -> ApiResult<Json<DiskInfo>> {
    let id = parse_vm_id(&uuid)?;
    Ok(Json(vms.resize_disk(&caller, id, request.size_gb).await?))
}

#[utoipa::path(
    put,
    path = "/api/v1/vms/{uuid}/role",
    operation_id = "setVmRole",
    tag = "machine",
    summary = "Set or clear the VM's role",
    description = "A role is a free-text label (`web`, `db`) to group and filter VMs by (`GET \
        /api/v1/vms?role=web`, `GET /api/v1/roles`). `{\"role\": null}` or an empty string \
        clears it. A VM being created or deleted is 409 `INVALID_STATE`. Any user for their own \
        VMs, an admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "The VM with its new role.", body = Vm),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "INVALID_STATE", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn set_role(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    ApiJson(request): ApiJson<RoleRequest>,
) -> ApiResult<Json<Vm>> {
    let id = parse_vm_id(&uuid)?;
    Ok(Json(vms.set_role(&caller, id, request.role).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/roles",
    operation_id = "listRoles",
    tag = "machine",
    summary = "The roles in use, with how many VMs have each",
    description = "Counted over the VMs the caller may see (an admin: all; a user: their own). \
        Any logged-in user.",
    responses(
        (status = 200, description = "Each role in use and its count.", body = Vec<RoleCount>),
    ),
    extensions(("x-error-codes" = json!(["HYPERVISOR_UNAVAILABLE"]))),
)]
pub async fn roles(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<RoleCount>>> {
    Ok(Json(vms.roles(&caller).await?))
}
