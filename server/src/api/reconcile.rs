//! Reconcile, adopt and forget: admin-only (the service refuses anyone else with 403).

use std::sync::Arc;

use app::ports::VmPort;
use app::report::{AdoptRequest, ForgetRequest, ReconcileReport};
use app::types::Vm;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

use super::json::ApiJson;
use crate::auth::extract::Caller;
use crate::error::ApiResult;
use crate::service::VmService;

#[utoipa::path(
    post,
    path = "/api/v1/reconcile",
    operation_id = "reconcile",
    tag = "reconcile",
    summary = "Compare libvirt, the database and the disks, and repair what can be",
    description = "Finishes or undoes operations a crash cut off, corrects records whose status \
        differs from libvirt's, marks records whose domain is gone `missing`, and reports what \
        it will not decide alone: ghosts (domains libvirt has and Limen does not: adopt them \
        with `POST /api/v1/reconcile/adopt`), missing VMs (forget them with `POST \
        /api/v1/reconcile/forget`), orphan disks (listed, never removed) and stale snapshot \
        records. Nothing is deleted silently. No request body. Admins only (403 `FORBIDDEN` for \
        anyone else).",
    responses(
        (status = 200, description = "What was found and what was done.", body = ReconcileReport),
    ),
    extensions(("x-error-codes" = json!(["FORBIDDEN", "HYPERVISOR_UNAVAILABLE"]))),
)]
pub async fn reconcile(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<ReconcileReport>> {
    Ok(Json(vms.reconcile(&caller).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/reconcile/forget",
    operation_id = "forgetVm",
    tag = "reconcile",
    summary = "Remove the record of a missing VM",
    description = "Removes the record of a VM whose libvirt domain is gone, and nothing else (a \
        disk it had stays, and is then listed as an orphan). Checked again now: a VM whose \
        domain exists is 409 `INVALID_STATE` (run reconcile again). An unknown id is 404 \
        `VM_NOT_FOUND`. Admins only (403 `FORBIDDEN` for anyone else).",
    request_body = ForgetRequest,
    responses(
        (status = 204, description = "The record is gone."),
    ),
    extensions(("x-error-codes" = json!([
        "FORBIDDEN", "VM_NOT_FOUND", "INVALID_STATE", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn forget(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<ForgetRequest>,
) -> ApiResult<StatusCode> {
    vms.forget_vm(&caller, request.uuid).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/api/v1/reconcile/adopt",
    operation_id = "adoptVm",
    tag = "reconcile",
    summary = "Take a domain Limen does not know under management",
    description = "Makes a record for a ghost — a libvirt domain with no Limen record — from its \
        own definition; from then on it is listed and managed like any VM (its disk stays where \
        it is, and Limen does not resize it or make base images of it). `owner` (default: the \
        caller) must be an existing user (400 `VALIDATION_FAILED`); `role` is optional. No \
        domain with that UUID is 404 `VM_NOT_FOUND`; a name or UUID Limen already has is 409 \
        `VM_ALREADY_EXISTS`; a domain whose name breaks Limen's naming rule is 400 (rename it \
        with `virsh domrename` first). Admins only (403 `FORBIDDEN` for anyone else).",
    request_body = AdoptRequest,
    responses(
        (status = 201, description = "The adopted VM.", body = Vm),
    ),
    extensions(("x-error-codes" = json!([
        "FORBIDDEN", "VM_NOT_FOUND", "VM_ALREADY_EXISTS", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
pub async fn adopt(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<AdoptRequest>,
) -> ApiResult<(StatusCode, Json<Vm>)> {
    Ok((
        StatusCode::CREATED,
        Json(vms.adopt_vm(&caller, request).await?),
    ))
}
