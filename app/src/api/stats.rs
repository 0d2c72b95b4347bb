//! Server functions for the host page (its graphs are drawn from the REST API by `graphs.js`).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ports::{caller, vm_port, with_status};
use crate::stats::HostCapacity;

#[server(prefix = "/rpc", endpoint = "host_capacity", input = Json)]
pub async fn read_host_capacity() -> Result<HostCapacity, AppError> {
    with_status(async { vm_port()?.host_capacity(&caller()?).await }.await)
}
