use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::machine::{CreateImageRequest, OperationProgress};
#[cfg(feature = "ssr")]
use crate::ports::{caller, vm_port, with_status};
use crate::types::MediaFile;

#[server(prefix = "/rpc", endpoint = "list_isos", input = Json)]
pub async fn list_isos() -> Result<Vec<MediaFile>, AppError> {
    with_status(async { vm_port()?.list_isos(&caller()?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "list_images", input = Json)]
pub async fn list_images() -> Result<Vec<MediaFile>, AppError> {
    with_status(async { vm_port()?.list_images(&caller()?).await }.await)
}

/// Deletes an ISO from the library (admins); refused while a VM has it in its drive.
#[server(prefix = "/rpc", endpoint = "delete_iso", input = Json)]
pub async fn delete_iso(name: String) -> Result<(), AppError> {
    with_status(async { vm_port()?.delete_iso(&caller()?, name).await }.await)
}

/// Starts making a base image of a stopped VM's disk (admins).
#[server(prefix = "/rpc", endpoint = "create_image", input = Json)]
pub async fn create_image(request: CreateImageRequest) -> Result<OperationProgress, AppError> {
    with_status(async { vm_port()?.create_image(&caller()?, request).await }.await)
}

#[server(prefix = "/rpc", endpoint = "delete_image", input = Json)]
pub async fn delete_image(name: String) -> Result<(), AppError> {
    with_status(async { vm_port()?.delete_image(&caller()?, name).await }.await)
}

#[server(prefix = "/rpc", endpoint = "list_operations", input = Json)]
pub async fn list_operations() -> Result<Vec<OperationProgress>, AppError> {
    with_status(async { vm_port()?.operations(&caller()?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "cancel_operation", input = Json)]
pub async fn cancel_operation(id: uuid::Uuid) -> Result<(), AppError> {
    with_status(async { vm_port()?.cancel_operation(&caller()?, id).await }.await)
}
