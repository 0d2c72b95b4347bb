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

pub async fn list(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(uuid): Path<String>,
) -> ApiResult<Json<Vec<Snapshot>>> {
    Ok(Json(vms.snapshots(&caller, parse_vm_id(&uuid)?).await?))
}

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

pub async fn revert(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path((uuid, name)): Path<(String, String)>,
) -> ApiResult<Json<Snapshot>> {
    let id = parse_vm_id(&uuid)?;
    Ok(Json(vms.revert_snapshot(&caller, id, name).await?))
}

pub async fn delete(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path((uuid, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let id = parse_vm_id(&uuid)?;
    vms.delete_snapshot(&caller, id, name).await?;
    Ok(StatusCode::NO_CONTENT)
}
