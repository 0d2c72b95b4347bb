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

#[utoipa::path(
    get,
    path = "/api/v1/isos",
    operation_id = "listIsos",
    tag = "media",
    summary = "The ISO library",
    description = "The ISOs that can be put in a VM's CD-ROM drive or named in a create, by \
        name, with their size and, in `used_by`, the names of the caller's VMs (all VMs, for an \
        admin) that have each in their drive. Any logged-in user.",
    responses(
        (status = 200, description = "The ISOs, by name.", body = Vec<MediaFile>),
    ),
    extensions(("x-error-codes" = json!(["HYPERVISOR_UNAVAILABLE"]))),
)]
pub async fn list_isos(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<MediaFile>>> {
    Ok(Json(vms.list_isos(&caller).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/images",
    operation_id = "listImages",
    tag = "media",
    summary = "The base-image library",
    description = "The base images a VM's disk can be cloned from (`image` in a create), by \
        name, with their size and, in `used_by`, the names of the caller's VMs (all VMs, for an \
        admin) whose disks are built on each. Any logged-in user.",
    responses(
        (status = 200, description = "The base images, by name.", body = Vec<MediaFile>),
    ),
    extensions(("x-error-codes" = json!([]))),
)]
pub async fn list_images(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<MediaFile>>> {
    Ok(Json(vms.list_images(&caller).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The ISO's name in the library: ending in `.iso`, no path, not starting with `.`,
    /// at most 255 bytes. Required.
    #[param(required = true, value_type = String, example = "debian-12.iso")]
    name: Option<String>,
}

/// `POST /api/v1/isos?name=debian-12.iso` with the file as the body (any content type): the
/// body is streamed to disk as it arrives.
#[utoipa::path(
    post,
    path = "/api/v1/isos",
    operation_id = "uploadIso",
    tag = "media",
    summary = "Upload an ISO into the library",
    description = "`POST /api/v1/isos?name=debian-12.iso` with the file itself as the request \
        body (not a form: the raw bytes, with any `Content-Type`), e.g. `curl -X POST -H \
        'Authorization: Bearer …' -T debian-12.iso \
        'https://limen/api/v1/isos?name=debian-12.iso'`. The body is streamed to disk as it \
        arrives and the ISO appears in the library only once it is complete and checked to be an \
        ISO 9660 image (415 `NOT_AN_ISO` otherwise); an upload that is refused or cut off leaves \
        nothing behind. Send `Content-Length`: a declared length over the configured limit \
        (`iso_upload_max_mb`) is refused before anything is read (413 `PAYLOAD_TOO_LARGE`, also \
        for a body that grows past it), and one larger than the free space at once (507 \
        `INSUFFICIENT_STORAGE`); a body shorter than declared is 400. An ISO of that name \
        already in the library is 409 `MEDIA_ALREADY_EXISTS`. Admins only (403 `FORBIDDEN` for \
        anyone else).",
    params(
        UploadQuery,
        ("Content-Length" = Option<u64>, Header, description = "The file's size in bytes; \
            checked against the upload limit and the free space before the upload starts, and \
            against the body received."),
    ),
    request_body(
        description = "The ISO file's bytes, as they are (any content type).",
        content(
            ("application/octet-stream"),
            ("application/x-iso9660-image"),
            ("*/*"),
        ),
    ),
    responses(
        (status = 201, description = "The ISO, now in the library.", body = MediaFile),
    ),
    extensions(("x-error-codes" = json!([
        "FORBIDDEN", "PAYLOAD_TOO_LARGE", "NOT_AN_ISO", "MEDIA_ALREADY_EXISTS",
        "INSUFFICIENT_STORAGE"
    ]))),
)]
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

#[utoipa::path(
    delete,
    path = "/api/v1/isos/{name}",
    operation_id = "deleteIso",
    tag = "media",
    summary = "Delete an ISO from the library",
    description = "Refused with 409 `MEDIA_IN_USE` while any VM (anyone's) has it in its CD-ROM \
        drive: eject it there first. An unknown name is 404 `ISO_NOT_FOUND`. Admins only (403 \
        `FORBIDDEN` for anyone else).",
    params(("name" = String, Path, description = "The ISO's name in the library.")),
    responses(
        (status = 204, description = "Deleted."),
    ),
    extensions(("x-error-codes" = json!([
        "FORBIDDEN", "ISO_NOT_FOUND", "MEDIA_IN_USE", "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/images",
    operation_id = "createImage",
    tag = "media",
    summary = "Make a base image from a stopped VM's disk",
    description = "Copies the VM's disk, flattened, into the base-image library as \
        `<name>.qcow2`, for new VMs to be cloned from. The copy runs in the background: the \
        answer (202) is the operation's first progress, whose `id` `POST \
        /api/v1/operations/{id}/cancel` takes; its progress and end are published as \
        `operation_progress` on `GET /api/v1/events` and listed by `GET /api/v1/operations`. The \
        VM must be stopped and stays locked until the copy ends (409 `INVALID_STATE`, as for a \
        disk Limen did not create); an image of that name is 409 `MEDIA_ALREADY_EXISTS`; an \
        unknown VM 404 `VM_NOT_FOUND`. Admins only (403 `FORBIDDEN` for anyone else).",
    request_body = CreateImageRequest,
    responses(
        (status = 202, description = "Started: the operation's first progress.",
            body = OperationProgress),
    ),
    extensions(("x-error-codes" = json!([
        "FORBIDDEN", "VM_NOT_FOUND", "INVALID_STATE", "MEDIA_ALREADY_EXISTS",
        "HYPERVISOR_UNAVAILABLE"
    ]))),
)]
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

#[utoipa::path(
    delete,
    path = "/api/v1/images/{name}",
    operation_id = "deleteImage",
    tag = "media",
    summary = "Delete a base image from the library",
    description = "Refused with 409 `MEDIA_IN_USE` while a VM's disk is built on it: delete \
        those VMs first. An unknown name is 404 `IMAGE_NOT_FOUND`. Admins only (403 `FORBIDDEN` \
        for anyone else).",
    params(
        ("name" = String, Path, description = "The base image's name in the library (with its \
            `.qcow2`)."),
    ),
    responses(
        (status = 204, description = "Deleted."),
    ),
    extensions(("x-error-codes" = json!(["FORBIDDEN", "IMAGE_NOT_FOUND", "MEDIA_IN_USE"]))),
)]
pub async fn delete_image(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    vms.delete_image(&caller, name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/api/v1/operations",
    operation_id = "listOperations",
    tag = "operations",
    summary = "The long operations running now",
    description = "Snapshot work (taking, reverting, deleting) on the VMs the caller may see \
        and, for admins, base images being made; each with its progress. An operation is listed \
        while it runs; its end is published as `operation_progress` on `GET /api/v1/events`. Any \
        logged-in user.",
    responses(
        (status = 200, description = "The running operations.", body = Vec<OperationProgress>),
    ),
    extensions(("x-error-codes" = json!([]))),
)]
pub async fn operations(
    State(vms): State<Arc<VmService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<OperationProgress>>> {
    Ok(Json(vms.operations(&caller).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/operations/{id}/cancel",
    operation_id = "cancelOperation",
    tag = "operations",
    summary = "Cancel a base image being made",
    description = "Asks a running base-image operation to stop: its copy stops and what it wrote \
        is removed. The answer (202) comes at once; the end is published as `operation_progress` \
        (`cancelled`) on `GET /api/v1/events`. Only base-image operations can be cancelled: any \
        other id, or one that has finished, is 404 `NOT_FOUND`. No request body. Admins only \
        (403 `FORBIDDEN` for anyone else).",
    params(
        ("id" = String, Path, format = Uuid, description = "The operation's id (`id` of its \
            progress)."),
    ),
    responses(
        (status = 202, description = "Cancelling."),
    ),
    extensions(("x-error-codes" = json!(["FORBIDDEN", "NOT_FOUND"]))),
)]
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
