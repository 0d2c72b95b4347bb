//! Server functions for a VM's snapshots (the VM page's snapshots section).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ports::{caller, vm_port, with_status};
use crate::snapshots::{CreateSnapshotRequest, Snapshot};
use crate::types::VmId;

#[server(prefix = "/rpc", endpoint = "list_snapshots", input = Json)]
pub async fn list_snapshots(id: VmId) -> Result<Vec<Snapshot>, AppError> {
    with_status(async { vm_port()?.snapshots(&caller()?, id).await }.await)
}

#[server(prefix = "/rpc", endpoint = "create_snapshot", input = Json)]
pub async fn create_snapshot(
    id: VmId,
    request: CreateSnapshotRequest,
) -> Result<Snapshot, AppError> {
    with_status(async { vm_port()?.create_snapshot(&caller()?, id, request).await }.await)
}

#[server(prefix = "/rpc", endpoint = "revert_snapshot", input = Json)]
pub async fn revert_snapshot(id: VmId, name: String) -> Result<Snapshot, AppError> {
    with_status(async { vm_port()?.revert_snapshot(&caller()?, id, name).await }.await)
}

#[server(prefix = "/rpc", endpoint = "delete_snapshot", input = Json)]
pub async fn delete_snapshot(id: VmId, name: String) -> Result<(), AppError> {
    with_status(async { vm_port()?.delete_snapshot(&caller()?, id, name).await }.await)
}
