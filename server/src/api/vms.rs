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

#[derive(serde::Deserialize)]
pub struct ListQuery {
    /// Only the VMs with this role (seed 004).
    role: Option<String>,
}

/// For an admin, the cached JSON of the whole list as it is (no per-request serialization or
/// compression); for a user, their own VMs; `?role=R`: those with role R.
pub async fn list_vms(
    State(vms): State<Arc<VmService>>,
    Extension(gzip): Extension<Arc<GzipCache>>,
    Caller(caller): Caller,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(role) = query.role {
        return Ok(Json(vms.list_vms_with_role(&caller, &role).await?).into_response());
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

pub async fn get_vm(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<Vm>> {
    Ok(Json(vms.get_vm(&caller, parse_vm_id(&uuid)?).await?))
}

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
