//! A VM's snapshots: list, take, revert, delete.

use std::sync::Arc;

use app::ports::VmPort;
use app::snapshots::{CreateSnapshotRequest, Snapshot};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;

use super::json::ApiJson;
use super::vms::parse_vm_id;
use crate::auth::extract::Caller;
use crate::error::ApiResult;
use crate::service::VmService;

#[utoipa::path(
    get,
    path = "/api/v1/vms/{uuid}/snapshots",
    operation_id = "listSnapshots",
    tag = "snapshots",
    summary = "The VM's snapshots",
    description = "The snapshots libvirt has of the VM, oldest first, each with who took it \
        (`null` for one made outside Limen) and whether it is the one the disk now builds on. A \
        VM whose domain is missing has none. Any user for their own VMs, an admin for any.",
    params(
        ("uuid" = String, Path, format = Uuid, description = "The VM's id."),
    ),
    responses(
        (status = 200, description = "The snapshots, oldest first.", body = Vec<Snapshot>),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn list(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<Vec<Snapshot>>> {
    Ok(Json(vms.snapshots(&caller, parse_vm_id(&uuid)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/vms/{uuid}/snapshots",
    operation_id = "createSnapshot",
    tag = "snapshots",
    summary = "Take a snapshot of the VM",
    description = "Takes an internal snapshot of the VM's disk (qcow2 disks only) and, for a \
        running or paused VM, its memory (a revert then resumes it where it was); `memory` may \
        be left out, and can only say the same. Answers when the snapshot is taken; its progress \
        is also published as `operation_progress` on `GET /api/v1/events`. What the snapshot may \
        add to the disk file counts against the owner's disk quota (403 `QUOTA_EXCEEDED`). 409: \
        a snapshot of that name exists (`SNAPSHOT_ALREADY_EXISTS`), the VM has as many as one VM \
        may have (`SNAPSHOT_LIMIT_REACHED`), or the VM's state does not allow it, e.g. missing, \
        shutting down, being created or deleted, `memory: false` for a running VM or `memory: \
        true` for a stopped one (`INVALID_STATE`). Any user for their own VMs, an admin for any.",
    params(
        ("uuid" = String, Path, format = Uuid, description = "The VM's id."),
    ),
    request_body = CreateSnapshotRequest,
    responses(
        (status = 201, description = "The new snapshot.", body = Snapshot),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "INVALID_STATE", "SNAPSHOT_ALREADY_EXISTS", "SNAPSHOT_LIMIT_REACHED",
        "QUOTA_EXCEEDED", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn create(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    ApiJson(request): ApiJson<CreateSnapshotRequest>,
) -> ApiResult<impl IntoResponse> {
    let id = parse_vm_id(&uuid)?;
    let snapshot = vms.create_snapshot(&caller, id, request).await?;
    Ok((StatusCode::CREATED, Json(snapshot)))
}

#[utoipa::path(
    post,
    path = "/api/v1/vms/{uuid}/snapshots/{name}/revert",
    operation_id = "revertSnapshot",
    tag = "snapshots",
    summary = "Revert the VM to a snapshot",
    description = "Brings back the snapshot's disk (and disk size) and the VM's state it \
        captured (`state`): a snapshot with memory resumes the VM where it was. What the disk \
        held since is lost; the VM's new status follows on `GET /api/v1/events`. No request \
        body. A revert to a larger disk counts against the owner's disk quota (403 \
        `QUOTA_EXCEEDED`). An unknown name is 404 `SNAPSHOT_NOT_FOUND`; a snapshot made outside \
        Limen with external disk files, or a VM whose state does not allow it, is 409 \
        `INVALID_STATE`. Any user for their own VMs, an admin for any.",
    params(
        ("uuid" = String, Path, format = Uuid, description = "The VM's id."),
        ("name" = String, Path, description = "The snapshot's name."),
    ),
    responses(
        (status = 200, description = "The snapshot reverted to (now `current`).", body = Snapshot),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "SNAPSHOT_NOT_FOUND", "INVALID_STATE", "QUOTA_EXCEEDED",
        "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn revert(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path((uuid, name)): Path<(String, String)>,
) -> ApiResult<Json<Snapshot>> {
    let id = parse_vm_id(&uuid)?;
    Ok(Json(vms.revert_snapshot(&caller, id, name).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/vms/{uuid}/snapshots/{name}",
    operation_id = "deleteSnapshot",
    tag = "snapshots",
    summary = "Delete a snapshot",
    description = "Deletes the snapshot (its children move up to its parent) and frees its data \
        in the disk file. An unknown name is 404 `SNAPSHOT_NOT_FOUND`; a VM being created or \
        deleted, or whose disk is being copied into a base image, is 409 `INVALID_STATE`. Any \
        user for their own VMs, an admin for any.",
    params(
        ("uuid" = String, Path, format = Uuid, description = "The VM's id."),
        ("name" = String, Path, description = "The snapshot's name."),
    ),
    responses(
        (status = 204, description = "Deleted."),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "SNAPSHOT_NOT_FOUND", "INVALID_STATE", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn delete(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path((uuid, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = parse_vm_id(&uuid)?;
    vms.delete_snapshot(&caller, id, name).await?;
    Ok(StatusCode::NO_CONTENT)
}
