//! The libvirt hosts (SPEC §13): listing them (anyone: an admin sees every host, a user the
//! hosts of their own VMs), and adding, changing and removing them (admins).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::hosts::{AddHostRequest, Host, UpdateHostRequest};
#[cfg(feature = "ssr")]
use crate::ports::{caller, vm_port, with_status};

#[server(prefix = "/rpc", endpoint = "list_hosts", input = Json)]
pub async fn list_hosts() -> Result<Vec<Host>, AppError> {
    with_status(async { vm_port()?.list_hosts(&caller()?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "add_host", input = Json)]
pub async fn add_host(request: AddHostRequest) -> Result<Host, AppError> {
    with_status(async { vm_port()?.add_host(&caller()?, request).await }.await)
}

#[server(prefix = "/rpc", endpoint = "update_host", input = Json)]
pub async fn update_host(key: String, request: UpdateHostRequest) -> Result<Host, AppError> {
    with_status(async { vm_port()?.update_host(&caller()?, &key, request).await }.await)
}

#[server(prefix = "/rpc", endpoint = "remove_host", input = Json)]
pub async fn remove_host(key: String) -> Result<(), AppError> {
    with_status(async { vm_port()?.remove_host(&caller()?, &key).await }.await)
}
