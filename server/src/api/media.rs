//! The ISO and base-image libraries, and the long operations that fill them.

use std::sync::Arc;

use app::machine::{CreateImageRequest, OperationProgress};
use app::ports::VmPort;
use app::types::MediaFile;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;

use super::json::ApiJson;
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

#[derive(Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
}

/// `POST /api/v1/isos?name=debian-12.iso` with the file as the body (any content type): the
/// body is streamed to disk as it arrives.
pub async fn upload_iso(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<MediaFile>)> {
    // Checked by the service, after who may upload: a user learns nothing else.
    let name = query.name.unwrap_or_default();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok());
    let stream = body.into_data_stream();
    let file = vms.upload_iso(&caller, name, declared, stream).await?;
    Ok((StatusCode::CREATED, Json(file)))
}

pub async fn delete_iso(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    vms.delete_iso(&caller, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/images {vm, name}`: 202, the operation's first progress; it goes on in the
/// background (progress on the event stream, `GET /api/v1/operations`).
pub async fn create_image(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<CreateImageRequest>,
) -> ApiResult<(StatusCode, Json<OperationProgress>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(vms.create_image(&caller, request).await?),
    ))
}

pub async fn delete_image(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    vms.delete_image(&caller, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn operations(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<OperationProgress>>> {
    Ok(Json(vms.operations(&caller).await?))
}

pub async fn cancel_operation(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = id.parse().map_err(|_| {
        app::error::AppError::validation(format!("{id:?} is not an operation id (a UUID)."))
    })?;
    vms.cancel_operation(&caller, id).await?;
    Ok(StatusCode::ACCEPTED)
}
