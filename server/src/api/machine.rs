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

pub async fn detach_media(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<Vm>> {
    let id = parse_vm_id(&uuid)?;
    Ok(Json(vms.change_media(&caller, id, None).await?))
}

pub async fn boot_order(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<BootOrderReport>> {
    Ok(Json(vms.boot_order(&caller, parse_vm_id(&uuid)?).await?))
}

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

pub async fn installation(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<InstallationReport>> {
    Ok(Json(vms.installation(&caller, parse_vm_id(&uuid)?).await?))
}

/// No body (or `{}`): the installation succeeded; `{"failed": true}`: it failed.
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

pub async fn disk(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<DiskInfo>> {
    Ok(Json(vms.disk(&caller, parse_vm_id(&uuid)?).await?))
}

pub async fn resize_disk(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    ApiJson(request): ApiJson<ResizeDiskRequest>,
) -> ApiResult<Json<DiskInfo>> {
    let id = parse_vm_id(&uuid)?;
    Ok(Json(vms.resize_disk(&caller, id, request.size_gb).await?))
}

pub async fn set_role(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
    ApiJson(request): ApiJson<RoleRequest>,
) -> ApiResult<Json<Vm>> {
    let id = parse_vm_id(&uuid)?;
    Ok(Json(vms.set_role(&caller, id, request.role).await?))
}

pub async fn roles(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<RoleCount>>> {
    Ok(Json(vms.roles(&caller).await?))
}
