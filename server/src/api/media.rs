use std::sync::Arc;

use app::ports::VmPort;
use app::types::MediaFile;
use axum::extract::State;
use axum::Json;

use crate::auth::extract::Caller;
use crate::error::ApiResult;
use crate::service::VmService;

pub async fn list_isos(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<MediaFile>>> {
    Ok(Json(vms.list_isos(&caller).await?))
}

pub async fn list_images(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<MediaFile>>> {
    Ok(Json(vms.list_images(&caller).await?))
}
