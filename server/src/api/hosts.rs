//! The libvirt hosts Limen manages (SPEC §13).

use std::sync::Arc;

use app::hosts::{AddHostRequest, Host, MigrateRequest, UpdateHostRequest};
use app::ports::VmPort;
use app::types::Vm;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::json::ApiJson;
use crate::auth::extract::Caller;
use crate::error::ApiResult;
use crate::service::VmService;

#[utoipa::path(
    get,
    path = "/api/v1/hosts",
    operation_id = "listHosts",
    tag = "hosts",
    summary = "The libvirt hosts",
    description = "Every host Limen manages, the local one first: whether Limen reaches it now \
        (and, if not, why, in words), whether new VMs may be placed on it, its capacity and how \
        many VMs it has. An admin sees every host with its URI and capacity; any other user sees \
        only the hosts their own VMs are on, without them. Any logged-in user.",
    responses(
        (status = 200, description = "The hosts.", body = Vec<Host>),
    ),
    extensions(("x-error-codes" = json!([]))),
)]
pub async fn list_hosts(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<Host>>> {
    Ok(Json(vms.list_hosts(&caller).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/hosts",
    operation_id = "addHost",
    tag = "hosts",
    summary = "Add a libvirt host",
    description = "Limen connects to the URI first (for up to 20 s) and refuses a host it cannot \
        reach (503 `HYPERVISOR_UNAVAILABLE`, saying why in words). A name already taken, or a URI \
        that reaches a libvirt Limen already manages (the same daemon under another URI would \
        list every VM twice), is 409 `HOST_ALREADY_EXISTS`. The host's key is its name in lower \
        case. Once added, its VMs are followed live like the local host's, and new VMs may be \
        placed on it. Admins only (403 `FORBIDDEN` for anyone else).",
    request_body = AddHostRequest,
    responses(
        (status = 201, description = "The host as added.", body = Host),
    ),
    extensions(("x-error-codes" = json!([
        "FORBIDDEN", "HOST_ALREADY_EXISTS", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn add_host(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<AddHostRequest>,
) -> ApiResult<(StatusCode, Json<Host>)> {
    Ok((
        StatusCode::CREATED,
        Json(vms.add_host(&caller, request).await?),
    ))
}

#[utoipa::path(
    patch,
    path = "/api/v1/hosts/{key}",
    operation_id = "updateHost",
    tag = "hosts",
    summary = "Rename, enable or disable a host",
    description = "Only the fields present change. A disabled host keeps its VMs (they are \
        followed and can be started, stopped and migrated away) but no new VM is placed on it. \
        The local host cannot be disabled (409 `INVALID_STATE`). An unknown key is 404 \
        `HOST_NOT_FOUND`; a name another host has is 409 `HOST_ALREADY_EXISTS`. Admins only (403 \
        `FORBIDDEN` for anyone else).",
    params(("key" = String, Path, description = "The host's key.")),
    request_body = UpdateHostRequest,
    responses(
        (status = 200, description = "The host as it is now.", body = Host),
    ),
    extensions(("x-error-codes" = json!([
        "FORBIDDEN", "HOST_NOT_FOUND", "HOST_ALREADY_EXISTS", "INVALID_STATE"
    ]))),
)]
pub async fn update_host(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(key): Path<String>,
    ApiJson(request): ApiJson<UpdateHostRequest>,
) -> ApiResult<Json<Host>> {
    Ok(Json(vms.update_host(&caller, &key, request).await?))
}

#[utoipa::path(
    delete,
    path = "/api/v1/hosts/{key}",
    operation_id = "removeHost",
    tag = "hosts",
    summary = "Remove a host",
    description = "Limen stops following the host and forgets it; nothing on the host changes. \
        A host that still has VMs is refused with 409 `HOST_IN_USE`, naming them: migrate or \
        delete them first. The local host cannot be removed (409 `INVALID_STATE`). An unknown \
        key is 404 `HOST_NOT_FOUND`. Admins only (403 `FORBIDDEN` for anyone else).",
    params(("key" = String, Path, description = "The host's key.")),
    responses(
        (status = 204, description = "Removed."),
    ),
    extensions(("x-error-codes" = json!([
        "FORBIDDEN", "HOST_NOT_FOUND", "HOST_IN_USE", "INVALID_STATE"
    ]))),
)]
pub async fn remove_host(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    vms.remove_host(&caller, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/vms/{uuid}/migrate",
    operation_id = "migrateVm",
    tag = "hosts",
    summary = "Move a VM to another host",
    description = "A running (or paused) VM migrates live: libvirt copies its memory while it \
        runs and switches over; it never stops. A stopped VM moves by its definition. `live` \
        says which is wanted (absent: live if it runs). The disks stay where they are: every host \
        sees Limen's data dir as the same shared storage. Progress is published on the event \
        stream as `operation_progress` (kind `vm_migrate`); the VM's `host` changes once libvirt \
        says it runs there. Answers when it is over, with the VM where it now is. A failure \
        leaves the VM where it was, running if it ran (500, naming the step). Refused: an \
        unknown destination (404 `HOST_NOT_FOUND`), the VM's own host, a disabled one, a VM \
        with snapshots or in a state that does not fit `live` (409 `INVALID_STATE`), a \
        destination that has a VM of that name (409 `VM_ALREADY_EXISTS`). Admins only (403 \
        `FORBIDDEN` for anyone else).",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    request_body = MigrateRequest,
    responses(
        (status = 200, description = "Moved: the VM on its new host.", body = Vm),
    ),
    extensions(("x-error-codes" = json!([
        "FORBIDDEN", "VM_NOT_FOUND", "HOST_NOT_FOUND", "INVALID_STATE", "VM_ALREADY_EXISTS",
        "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn migrate_vm(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    ApiJson(request): ApiJson<MigrateRequest>,
) -> ApiResult<Json<Vm>> {
    let id = super::vms::parse_vm_id(&uuid)?;
    Ok(Json(vms.migrate_vm(&caller, id, request).await?))
}
