use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
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
