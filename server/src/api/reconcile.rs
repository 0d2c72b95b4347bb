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

pub async fn reconcile(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<ReconcileReport>> {
    Ok(Json(vms.reconcile(&caller).await?))
}

pub async fn forget(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<ForgetRequest>,
) -> ApiResult<StatusCode> {
    vms.forget_vm(&caller, request.uuid).await?;
    Ok(StatusCode::NO_CONTENT)
}

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
