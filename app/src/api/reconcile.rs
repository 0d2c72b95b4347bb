use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ports::{caller, vm_port, with_status};
use crate::report::{AdoptRequest, ReconcileReport};
use crate::types::{Vm, VmId};

#[server(prefix = "/rpc", endpoint = "reconcile", input = Json)]
pub async fn reconcile() -> Result<ReconcileReport, AppError> {
    with_status(async { vm_port()?.reconcile(&caller()?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "forget_vm", input = Json)]
pub async fn forget_vm(id: VmId) -> Result<(), AppError> {
    with_status(async { vm_port()?.forget_vm(&caller()?, id).await }.await)
}

#[server(prefix = "/rpc", endpoint = "adopt_vm", input = Json)]
pub async fn adopt_vm(request: AdoptRequest) -> Result<Vm, AppError> {
    with_status(async { vm_port()?.adopt_vm(&caller()?, request).await }.await)
}
