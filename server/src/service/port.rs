//! The `VmPort` the REST handlers and the server functions call: for each verb, its audit
//! entry, its locks, and the work, run detached (see `detached`).

use app::auth::Principal;
use app::error::AppError;
use app::ports::VmPort;
use app::report::{AdoptRequest, ReconcileReport};
use app::types::{CreateVmRequest, DeleteReport, MediaFile, Vm, VmAction, VmId};
use async_trait::async_trait;

use super::create::run_create;
use super::delete::delete;
use super::lifecycle::act;
use super::reconciliation::{adopt, forget, reconcile};
use super::records::visible;
use super::VmService;
use crate::audit::Entry;
use crate::error::report;

fn vm_target(id: VmId) -> String {
    id.0.to_string()
}

#[async_trait]
impl VmPort for VmService {
    async fn list_vms(&self, caller: &Principal) -> Result<Vec<Vm>, AppError> {
        let list = self.list().await?;
        Ok(list
            .vms
            .iter()
            .filter(|vm| caller.may_see(vm.owner.as_deref()))
            .cloned()
            .collect())
    }

    async fn list_isos(&self, _caller: &Principal) -> Result<Vec<MediaFile>, AppError> {
        self.isos().await
    }

    async fn list_images(&self, _caller: &Principal) -> Result<Vec<MediaFile>, AppError> {
        self.images().await
    }

    async fn get_vm(&self, caller: &Principal, id: VmId) -> Result<Vm, AppError> {
        visible(&self.cx, caller, id.0).await.map_err(report)
    }

    async fn create_vm(
        &self,
        caller: &Principal,
        request: CreateVmRequest,
    ) -> Result<Vm, AppError> {
        let entry = Entry::by(caller, "vm.create")
            .target(request.name.clone())
            .detail(format!(
                "{} vCPU, {} MiB, {} GiB",
                request.cpu, request.memory, request.disk_size
            ));
        let prepared = match self.prepare_create(&caller.username, &request).await {
            Ok(prepared) => prepared,
            Err(error) => {
                let refused = Err(report(error));
                self.audit.record(entry.outcome(&refused)).await;
                return refused;
            }
        };
        let audit = move |result: &Result<Vm, AppError>| match result {
            Ok(vm) => entry.target(format!("{} ({})", vm.name, vm.uuid.0)),
            Err(_) => entry.outcome(result),
        };
        let work = run_create(self.sagas.clone(), prepared.saga);
        self.detached(prepared.guards, audit, work).await
    }

    async fn act_on_vm(
        &self,
        caller: &Principal,
        id: VmId,
        action: VmAction,
    ) -> Result<Vm, AppError> {
        let entry = Entry::by(caller, action.audit_name()).target(vm_target(id));
        let guard = self.locks.lock(&id.0).await;
        let work = act(self.cx.clone(), caller.clone(), id, action);
        self.detached(guard, |r| entry.outcome(r), work).await
    }

    async fn delete_vm(&self, caller: &Principal, id: VmId) -> Result<DeleteReport, AppError> {
        let entry = Entry::by(caller, "vm.delete").target(vm_target(id));
        let audit = move |result: &Result<DeleteReport, AppError>| match result {
            Ok(report) if !report.leftovers.is_empty() => {
                entry.detail(format!("left behind: {:?}", report.leftovers))
            }
            _ => entry.outcome(result),
        };
        let guard = self.locks.lock(&id.0).await;
        let work = delete(self.sagas.clone(), caller.clone(), id);
        self.detached(guard, audit, work).await
    }

    async fn reconcile(&self, caller: &Principal) -> Result<ReconcileReport, AppError> {
        let entry = Entry::by(caller, "reconcile.run");
        let audit = move |result: &Result<ReconcileReport, AppError>| match result {
            Ok(report) => entry.detail(report.summary()),
            Err(_) => entry.outcome(result),
        };
        let work = reconcile(self.sagas.clone(), caller.clone());
        self.detached((), audit, work).await
    }

    async fn adopt_vm(&self, caller: &Principal, request: AdoptRequest) -> Result<Vm, AppError> {
        let entry = Entry::by(caller, "vm.adopt").target(vm_target(request.uuid));
        let guard = self.locks.lock(&request.uuid.0).await;
        let work = adopt(self.cx.clone(), caller.clone(), request);
        self.detached(guard, |r| entry.outcome(r), work).await
    }

    async fn forget_vm(&self, caller: &Principal, id: VmId) -> Result<(), AppError> {
        let entry = Entry::by(caller, "vm.forget").target(vm_target(id));
        let guard = self.locks.lock(&id.0).await;
        let work = forget(self.cx.clone(), caller.clone(), id);
        self.detached(guard, |r| entry.outcome(r), work).await
    }
}
