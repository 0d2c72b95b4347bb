use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
use crate::machine::{BootOrderReport, DiskInfo, InstallationReport, RoleCount};
#[cfg(feature = "ssr")]
use crate::ports::{caller, vm_port, with_status};
use crate::types::{BootOrder, Vm, VmId};

/// Puts a library ISO in the VM's drive; `None` ejects it.
#[server(prefix = "/rpc", endpoint = "change_media", input = Json)]
pub async fn change_media(id: VmId, iso: Option<String>) -> Result<Vm, AppError> {
    with_status(async { vm_port()?.change_media(&caller()?, id, iso).await }.await)
}

#[server(prefix = "/rpc", endpoint = "set_boot_order", input = Json)]
pub async fn set_boot_order(id: VmId, boot_order: BootOrder) -> Result<BootOrderReport, AppError> {
    with_status(async { vm_port()?.set_boot_order(&caller()?, id, boot_order).await }.await)
}

#[server(prefix = "/rpc", endpoint = "complete_installation", input = Json)]
pub async fn complete_installation(id: VmId, failed: bool) -> Result<InstallationReport, AppError> {
    with_status(
        async {
            vm_port()?
                .complete_installation(&caller()?, id, failed)
                .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "vm_disk", input = Json)]
pub async fn vm_disk(id: VmId) -> Result<DiskInfo, AppError> {
    with_status(async { vm_port()?.disk(&caller()?, id).await }.await)
}

#[server(prefix = "/rpc", endpoint = "resize_disk", input = Json)]
pub async fn resize_disk(id: VmId, size_gb: u64) -> Result<DiskInfo, AppError> {
    with_status(async { vm_port()?.resize_disk(&caller()?, id, size_gb).await }.await)
}

#[server(prefix = "/rpc", endpoint = "set_role", input = Json)]
pub async fn set_role(id: VmId, role: Option<String>) -> Result<Vm, AppError> {
    with_status(async { vm_port()?.set_role(&caller()?, id, role).await }.await)
}

#[server(prefix = "/rpc", endpoint = "list_roles", input = Json)]
pub async fn list_roles() -> Result<Vec<RoleCount>, AppError> {
    with_status(async { vm_port()?.roles(&caller()?).await }.await)
}
