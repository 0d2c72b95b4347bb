use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ports::{caller, vm_port, with_status};
use crate::types::{CreateVmRequest, DeleteReport, Vm, VmAction, VmId};

#[server(prefix = "/rpc", endpoint = "list_vms", input = Json)]
pub async fn list_vms() -> Result<Vec<Vm>, AppError> {
    with_status(async { vm_port()?.list_vms(&caller()?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "get_vm", input = Json)]
pub async fn get_vm(id: VmId) -> Result<Vm, AppError> {
    with_status(async { vm_port()?.get_vm(&caller()?, id).await }.await)
}

#[server(prefix = "/rpc", endpoint = "create_vm", input = Json)]
pub async fn create_vm(request: CreateVmRequest) -> Result<Vm, AppError> {
    with_status(async { vm_port()?.create_vm(&caller()?, request).await }.await)
}

#[server(prefix = "/rpc", endpoint = "act_on_vm", input = Json)]
pub async fn act_on_vm(id: VmId, action: VmAction) -> Result<Vm, AppError> {
    with_status(async { vm_port()?.act_on_vm(&caller()?, id, action).await }.await)
}

#[server(prefix = "/rpc", endpoint = "migrate_vm", input = Json)]
pub async fn migrate_vm(id: VmId, request: crate::hosts::MigrateRequest) -> Result<Vm, AppError> {
    with_status(async { vm_port()?.migrate_vm(&caller()?, id, request).await }.await)
}

#[server(prefix = "/rpc", endpoint = "delete_vm", input = Json)]
pub async fn delete_vm(id: VmId) -> Result<DeleteReport, AppError> {
    with_status(async { vm_port()?.delete_vm(&caller()?, id).await }.await)
}
