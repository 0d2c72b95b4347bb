use std::sync::Arc;

use app::error::AppError;
use app::ports::VmPort;
use app::types::{ActionRequest, CreateVmRequest, DeleteReport, Vm, VmId};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use super::encoding::{accepts_gzip, GzipCache};
use super::json::ApiJson;
use crate::auth::extract::Caller;
use crate::error::ApiResult;
use crate::service::VmService;

pub(super) fn parse_vm_id(raw: &str) -> Result<VmId, AppError> {
    raw.parse()
        .map_err(|_| AppError::validation(format!("{raw:?} is not a VM id (a UUID).")))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only the VMs with this role (an exact match, e.g. `web`).
    role: Option<String>,
    /// Only the VMs on this host (its key, e.g. `local`).
    host: Option<String>,
}

/// For an admin, the cached JSON of the whole list as it is (no per-request serialization or
/// compression); for a user, their own VMs; `?role=R`: those with role R.
#[utoipa::path(
    get,
    path = "/api/v1/vms",
    operation_id = "listVms",
    tag = "vms",
    summary = "List the VMs the caller may see",
    description = "An admin sees every VM, a user their own. Each VM is its record merged with \
        what libvirt says now (`status`); a VM whose host cannot be reached is `unknown`. \
        `?role=R` keeps only the VMs whose role is `R`, `?host=K` only those on the host whose \
        key is `K` (both may be given). An admin's unfiltered list is served gzip-compressed to a client that sends \
        `Accept-Encoding: gzip`. Any logged-in user.",
    params(ListQuery),
    responses(
        (status = 200, description = "The VMs, in no promised order.", body = [Vm]),
    ),
    extensions(("x-error-codes" = json!(["HYPERVISOR_UNAVAILABLE"]))),
)]
pub async fn list_vms(
    State(vms): State<Arc<VmService>>,
    Extension(gzip): Extension<Arc<GzipCache>>,
    Caller(caller): Caller,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if query.role.is_some() || query.host.is_some() {
        let mut list = match &query.role {
            Some(role) => vms.list_vms_with_role(&caller, role).await?,
            None => vms.list_vms(&caller).await?,
        };
        if let Some(host) = &query.host {
            list.retain(|vm| &vm.host == host);
        }
        return Ok(Json(list).into_response());
    }
    if !caller.is_admin() {
        return Ok(Json(vms.list_vms(&caller).await?).into_response());
    }
    let list = vms.list().await?;
    let json = [(header::CONTENT_TYPE, "application/json")];
    let vary = [(header::VARY, "accept-encoding")];
    Ok(if accepts_gzip(&headers) {
        let body = gzip.get_or_compress(&list.json);
        (json, vary, [(header::CONTENT_ENCODING, "gzip")], body).into_response()
    } else {
        (json, vary, list.json).into_response()
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/vms/{uuid}",
    operation_id = "getVm",
    tag = "vms",
    summary = "One VM",
    description = "The VM's record merged with what libvirt says now. Any user for their own \
        VMs, an admin for any; another user's VM is 404 `VM_NOT_FOUND`, like one that does not \
        exist.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    responses(
        (status = 200, description = "The VM.", body = Vm),
    ),
    extensions(("x-error-codes" = json!(["VM_NOT_FOUND", "HYPERVISOR_UNAVAILABLE"]))),
)]
pub async fn get_vm(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<Vm>> {
    Ok(Json(vms.get_vm(&caller, parse_vm_id(&uuid)?).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/vms",
    operation_id = "createVm",
    tag = "vms",
    summary = "Create a VM",
    description = "Creates a VM owned by the caller: its record, its disk (empty, or a \
        copy-on-write clone of a base image with `image`), and its libvirt domain, with an ISO \
        from the library in its CD-ROM drive if `iso` is given; `start: true` starts it too. \
        Answers when the VM exists (201). The request is checked against the rules (400 \
        `VALIDATION_FAILED`, also for more vCPUs or memory than the host has), the owner's quota \
        (403 `QUOTA_EXCEEDED`), the library (404 `ISO_NOT_FOUND`, `IMAGE_NOT_FOUND`) and the \
        names in use (409 `VM_ALREADY_EXISTS`: VM names are unique across all hosts and users); \
        `start: true` with nothing to boot from (boot order `cdrom` and no `iso`) is 409 \
        `INVALID_STATE`. `host` places it on that host (404 `HOST_NOT_FOUND`; a disabled host is \
        409 `INVALID_STATE`); without it Limen places it on the enabled host with the most free \
        memory among those large enough for it (the VM's `host` says which). A failure part-way is undone and answered 500 `VM_CREATION_FAILED`, \
        naming the step. Any logged-in user.",
    request_body = CreateVmRequest,
    responses(
        (status = 201, description = "The new VM.", body = Vm),
    ),
    extensions(("x-error-codes" = json!([
        "QUOTA_EXCEEDED", "ISO_NOT_FOUND", "IMAGE_NOT_FOUND", "HOST_NOT_FOUND", "VM_ALREADY_EXISTS",
        "INVALID_STATE", "VM_CREATION_FAILED", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn create_vm(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<CreateVmRequest>,
) -> ApiResult<(StatusCode, Json<Vm>)> {
    Ok((
        StatusCode::CREATED,
        Json(vms.create_vm(&caller, request).await?),
    ))
}

/// 200 with the VM as libvirt now reports it; 202 for shutdown and reboot, which libvirt only
/// asks the guest to do (the VM is still running when the answer comes).
#[utoipa::path(
    post,
    path = "/api/v1/vms/{uuid}/action",
    operation_id = "actOnVm",
    tag = "vms",
    summary = "Start, shut down, stop, reboot, reset, pause or resume a VM",
    description = "`start` powers on, `shutdown` presses the ACPI power button (the guest shuts \
        itself down), `stop` powers off at once, `reboot` asks the guest to restart, `reset` \
        restarts at once, `pause` and `resume` freeze and thaw the VM. An action the VM's status \
        does not allow (e.g. `start` on a running VM) is 409 `INVALID_STATE`; so is `start` of a \
        VM that could not boot (boot order `cdrom` with an empty drive). A start or resume \
        libvirt refuses is 500 `VM_START_FAILED`, saying why where that is the user's \
        business.\n\n\
        200: done, with the VM as libvirt reports it now. 202: `shutdown` and `reboot` are only \
        asked of the guest (which may ignore them); the VM is typically still running when the \
        answer comes — follow `GET /api/v1/events` to see it stop. Any user for their own VMs, \
        an admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    request_body = ActionRequest,
    responses(
        (status = 200, description = "Done: the VM as libvirt reports it now.", body = Vm),
        (status = 202, description = "`shutdown` or `reboot`: asked of the guest; the VM as it \
            is now (usually still running).", body = Vm),
    ),
    extensions(("x-error-codes" = json!([
        "VM_NOT_FOUND", "INVALID_STATE", "VM_START_FAILED", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn act_on_vm(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    ApiJson(request): ApiJson<ActionRequest>,
) -> ApiResult<(StatusCode, Json<Vm>)> {
    let id = parse_vm_id(&uuid)?;
    let vm = vms.act_on_vm(&caller, id, request.action).await?;
    let status = if request.action.needs_guest() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(vm)))
}

/// 204 when everything is gone; 200 with the report when something had to be left behind.
#[utoipa::path(
    delete,
    path = "/api/v1/vms/{uuid}",
    operation_id = "deleteVm",
    tag = "vms",
    summary = "Delete a VM, its domain and its disk",
    description = "Powers the VM off, removes its libvirt domain (with its snapshots), deletes \
        the disk Limen made for it, and removes its record. Any status allows a delete (a VM \
        left `deleting` by a crash is finished by deleting it again). What could not be removed \
        (e.g. the domain while libvirt is unreachable) is reported, never hidden: the answer is \
        then 200 with the list of leftovers instead of 204. Refused with 409 `INVALID_STATE` \
        while a base image is being made from the VM's disk. Any user for their own VMs, an \
        admin for any.",
    params(("uuid" = String, Path, format = Uuid, description = "The VM's id.")),
    responses(
        (status = 204, description = "Deleted, everything gone."),
        (status = 200, description = "Deleted, but something was left behind: one sentence per \
            leftover.", body = DeleteReport),
    ),
    extensions(("x-error-codes" = json!(["VM_NOT_FOUND", "INVALID_STATE"]))),
)]
pub async fn delete_vm(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Response> {
    let report: DeleteReport = vms.delete_vm(&caller, parse_vm_id(&uuid)?).await?;
    Ok(if report.leftovers.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (StatusCode::OK, Json(report)).into_response()
    })
}
