//! The `VmPort` the REST handlers and the server functions call: for each verb, its audit
//! entry, its locks, and the work, run detached (see `detached`).

use app::auth::Principal;
use app::error::AppError;
use app::hosts::{AddHostRequest, Host, MigrateRequest, UpdateHostRequest};
use app::machine::{
    BootOrderReport, CreateImageRequest, DiskInfo, InstallationReport, OperationProgress, RoleCount,
};
use app::ports::VmPort;
use app::report::{AdoptRequest, ReconcileReport};
use app::snapshots::{CreateSnapshotRequest, Snapshot};
use app::types::{BootOrder, CreateVmRequest, DeleteReport, MediaFile, Vm, VmAction, VmId};
use async_trait::async_trait;

use super::boot::{boot_order, complete_installation, installation, set_boot_order};
use super::create::run_create;
use super::delete::delete;
use super::disk::{disk, resize};
use super::lifecycle::act;
use super::media::change_media;
use super::reconciliation::{adopt, forget, reconcile};
use super::records::visible;
use super::roles::set_role;
use super::snapshots;
use super::VmService;
use crate::audit::Entry;
use crate::error::report;
use crate::keyed_locks::KeyedGuard;
use uuid::Uuid;

fn vm_target(id: VmId) -> String {
    id.0.to_string()
}

impl VmService {
    /// The VM's lock for a verb. While a base image is being made from its disk (which holds
    /// the lock for the whole copy) the verb is refused at once, and audited, instead of
    /// waiting for the copy's end — refused as busy to those who may see the VM, as not found
    /// to anyone else (what happens to another user's VM is none of their business).
    async fn lock_for(
        &self,
        caller: &Principal,
        id: VmId,
        entry: &Entry,
    ) -> Result<KeyedGuard<Uuid>, AppError> {
        if let Err(busy) = self.refuse_if_copying(id) {
            let refusal = match self.get_vm(caller, id).await {
                Ok(_) => busy,
                Err(hidden) => hidden,
            };
            let refused: Result<(), AppError> = Err(refusal.clone());
            self.audit.record(entry.clone().outcome(&refused)).await;
            return Err(refusal);
        }
        Ok(self.locks.lock(&id.0).await)
    }

    /// The lock on the quota of the VM's owner, as create takes it, for a verb whose growth is
    /// checked against that quota and made under it (an admin acting on a user's VM uses that
    /// user's quota). A VM the caller may not see is refused here, and audited.
    async fn owner_lock_for(
        &self,
        caller: &Principal,
        id: VmId,
        entry: &Entry,
    ) -> Result<Option<KeyedGuard<String>>, AppError> {
        let owner = match self.get_vm(caller, id).await {
            Ok(vm) => vm.owner,
            Err(error) => {
                let refused: Result<(), AppError> = Err(error.clone());
                self.audit.record(entry.clone().outcome(&refused)).await;
                return Err(error);
            }
        };
        Ok(match owner {
            Some(owner) => Some(self.owners.lock(&owner).await),
            None => None,
        })
    }
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

    async fn list_vms_with_role(
        &self,
        caller: &Principal,
        role: &str,
    ) -> Result<Vec<Vm>, AppError> {
        self.visible_vms(caller, Some(role)).await.map_err(report)
    }

    async fn roles(&self, caller: &Principal) -> Result<Vec<RoleCount>, AppError> {
        self.roles(caller).await.map_err(report)
    }

    async fn set_role(
        &self,
        caller: &Principal,
        id: VmId,
        role: Option<String>,
    ) -> Result<Vm, AppError> {
        let entry = Entry::by(caller, "vm.role")
            .target(vm_target(id))
            .detail(role.clone().unwrap_or_else(|| "(none)".into()));
        let guard = self.lock_for(caller, id, &entry).await?;
        let work = set_role(self.cx.clone(), caller.clone(), id, role);
        self.detached(guard, |r| entry.outcome(r), work).await
    }

    async fn list_isos(&self, caller: &Principal) -> Result<Vec<MediaFile>, AppError> {
        self.isos(caller).await
    }

    async fn delete_iso(&self, caller: &Principal, name: String) -> Result<(), AppError> {
        let entry = Entry::by(caller, "iso.delete").target(name.clone());
        let work = self.remove_iso(caller.clone(), name);
        let result = work.await.map_err(report);
        self.audit.record(entry.outcome(&result)).await;
        result
    }

    async fn list_images(&self, caller: &Principal) -> Result<Vec<MediaFile>, AppError> {
        self.images(caller).await
    }

    async fn create_image(
        &self,
        caller: &Principal,
        request: CreateImageRequest,
    ) -> Result<OperationProgress, AppError> {
        let result = self
            .start_image(caller, request.clone())
            .await
            .map_err(report);
        // Its end is audited when it ends; a refusal now is audited here.
        if result.is_err() {
            let entry = Entry::by(caller, "image.create").target(request.name);
            self.audit.record(entry.outcome(&result)).await;
        }
        result
    }

    async fn delete_image(&self, caller: &Principal, name: String) -> Result<(), AppError> {
        let entry = Entry::by(caller, "image.delete").target(name.clone());
        let result = self.remove_image(caller, &name).await.map_err(report);
        self.audit.record(entry.outcome(&result)).await;
        result
    }

    async fn operations(&self, caller: &Principal) -> Result<Vec<OperationProgress>, AppError> {
        Ok(self.running_jobs(caller))
    }

    async fn cancel_operation(&self, caller: &Principal, id: uuid::Uuid) -> Result<(), AppError> {
        let entry = Entry::by(caller, "operation.cancel").target(id.to_string());
        let result = self.cancel_job(caller, id).map_err(report);
        self.audit.record(entry.outcome(&result)).await;
        result
    }

    async fn change_media(
        &self,
        caller: &Principal,
        id: VmId,
        iso: Option<String>,
    ) -> Result<Vm, AppError> {
        let entry = match &iso {
            Some(name) => Entry::by(caller, "vm.media.attach").detail(name.clone()),
            None => Entry::by(caller, "vm.media.detach"),
        }
        .target(vm_target(id));
        let guard = self.lock_for(caller, id, &entry).await?;
        let work = change_media(self.cx.clone(), caller.clone(), id, iso);
        self.detached(guard, |r| entry.outcome(r), work).await
    }

    async fn boot_order(&self, caller: &Principal, id: VmId) -> Result<BootOrderReport, AppError> {
        boot_order(self.cx.clone(), caller.clone(), id)
            .await
            .map_err(report)
    }

    async fn set_boot_order(
        &self,
        caller: &Principal,
        id: VmId,
        order: BootOrder,
    ) -> Result<BootOrderReport, AppError> {
        let entry = Entry::by(caller, "vm.boot_order")
            .target(vm_target(id))
            .detail(order.as_str());
        let guard = self.lock_for(caller, id, &entry).await?;
        let work = set_boot_order(self.cx.clone(), caller.clone(), id, order);
        self.detached(guard, |r| entry.outcome(r), work).await
    }

    async fn installation(
        &self,
        caller: &Principal,
        id: VmId,
    ) -> Result<InstallationReport, AppError> {
        installation(self.cx.clone(), caller.clone(), id)
            .await
            .map_err(report)
    }

    async fn complete_installation(
        &self,
        caller: &Principal,
        id: VmId,
        failed: bool,
    ) -> Result<InstallationReport, AppError> {
        let name = if failed {
            "vm.installation.failed"
        } else {
            "vm.installation.complete"
        };
        let entry = Entry::by(caller, name).target(vm_target(id));
        let guard = self.lock_for(caller, id, &entry).await?;
        let work = complete_installation(self.cx.clone(), caller.clone(), id, failed);
        self.detached(guard, |r| entry.outcome(r), work).await
    }

    async fn disk(&self, caller: &Principal, id: VmId) -> Result<DiskInfo, AppError> {
        disk(self.cx.clone(), caller.clone(), id)
            .await
            .map_err(report)
    }

    async fn resize_disk(
        &self,
        caller: &Principal,
        id: VmId,
        size_gb: u64,
    ) -> Result<DiskInfo, AppError> {
        let entry = Entry::by(caller, "vm.disk.resize")
            .target(vm_target(id))
            .detail(format!("{size_gb} GiB"));
        let guard = self.lock_for(caller, id, &entry).await?;
        let quota_guard = self.owner_lock_for(caller, id, &entry).await?;
        let work = resize(self.cx.clone(), caller.clone(), id, size_gb);
        self.detached((guard, quota_guard), |r| entry.outcome(r), work)
            .await
    }

    async fn get_vm(&self, caller: &Principal, id: VmId) -> Result<Vm, AppError> {
        visible(&self.cx, caller, id.0).await.map_err(report)
    }

    async fn snapshots(&self, caller: &Principal, id: VmId) -> Result<Vec<Snapshot>, AppError> {
        snapshots::list(self.cx.clone(), caller.clone(), id)
            .await
            .map_err(report)
    }

    async fn create_snapshot(
        &self,
        caller: &Principal,
        id: VmId,
        request: CreateSnapshotRequest,
    ) -> Result<Snapshot, AppError> {
        let entry = Entry::by(caller, "vm.snapshot.create")
            .target(vm_target(id))
            .detail(request.name.clone());
        let guard = self.lock_for(caller, id, &entry).await?;
        // The snapshot's growth of the disk file is checked against the disk quota.
        let quota_guard = self.owner_lock_for(caller, id, &entry).await?;
        let work = snapshots::create(
            self.sagas.clone(),
            self.snapshot_works.clone(),
            caller.clone(),
            id,
            request,
            self.settings.max_snapshots_per_vm,
            quota_guard,
        );
        self.detached(guard, |r| entry.outcome(r), work).await
    }

    async fn revert_snapshot(
        &self,
        caller: &Principal,
        id: VmId,
        name: String,
    ) -> Result<Snapshot, AppError> {
        let entry = Entry::by(caller, "vm.snapshot.revert")
            .target(vm_target(id))
            .detail(name.clone());
        let guard = self.lock_for(caller, id, &entry).await?;
        // A revert may bring back a larger disk: checked against the quota under its lock.
        let quota_guard = self.owner_lock_for(caller, id, &entry).await?;
        let work = snapshots::revert(
            self.cx.clone(),
            self.snapshot_works.clone(),
            caller.clone(),
            id,
            name,
        );
        self.detached((guard, quota_guard), |r| entry.outcome(r), work)
            .await
    }

    async fn delete_snapshot(
        &self,
        caller: &Principal,
        id: VmId,
        name: String,
    ) -> Result<(), AppError> {
        let entry = Entry::by(caller, "vm.snapshot.delete")
            .target(vm_target(id))
            .detail(name.clone());
        let guard = self.lock_for(caller, id, &entry).await?;
        let work = snapshots::delete(
            self.cx.clone(),
            self.snapshot_works.clone(),
            caller.clone(),
            id,
            name,
        );
        self.detached(guard, |r| entry.outcome(r), work).await
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
        let guard = self.lock_for(caller, id, &entry).await?;
        let work = act(self.cx.clone(), caller.clone(), id, action);
        self.detached(guard, |r| entry.outcome(r), work).await
    }

    async fn delete_vm(&self, caller: &Principal, id: VmId) -> Result<DeleteReport, AppError> {
        let entry = Entry::by(caller, "vm.delete").target(vm_target(id));
        let guard = self.lock_for(caller, id, &entry).await?;
        let audit = move |result: &Result<DeleteReport, AppError>| match result {
            Ok(report) if !report.leftovers.is_empty() => {
                entry.detail(format!("left behind: {:?}", report.leftovers))
            }
            _ => entry.outcome(result),
        };
        let work = delete(self.sagas.clone(), caller.clone(), id);
        self.detached(guard, audit, work).await
    }

    async fn list_hosts(&self, caller: &Principal) -> Result<Vec<Host>, AppError> {
        self.hosts_list(caller).await.map_err(report)
    }

    async fn add_host(
        &self,
        caller: &Principal,
        request: AddHostRequest,
    ) -> Result<Host, AppError> {
        let entry = Entry::by(caller, "host.add")
            .target(request.name.to_ascii_lowercase())
            .detail(request.uri.clone());
        let result = self.host_add(caller, request).await.map_err(report);
        self.audit.record(entry.outcome(&result)).await;
        result
    }

    async fn update_host(
        &self,
        caller: &Principal,
        key: &str,
        request: UpdateHostRequest,
    ) -> Result<Host, AppError> {
        let change = match (&request.name, request.enabled) {
            (Some(name), Some(enabled)) => format!("name {name}, enabled {enabled}"),
            (Some(name), None) => format!("name {name}"),
            (None, Some(enabled)) => format!("enabled {enabled}"),
            (None, None) => "nothing".to_string(),
        };
        let entry = Entry::by(caller, "host.update").target(key).detail(change);
        let result = self
            .host_update(caller, key.to_string(), request)
            .await
            .map_err(report);
        self.audit.record(entry.outcome(&result)).await;
        result
    }

    async fn migrate_vm(
        &self,
        caller: &Principal,
        id: VmId,
        request: MigrateRequest,
    ) -> Result<Vm, AppError> {
        let how = match request.live {
            Some(true) => "live",
            Some(false) => "offline",
            None => "live if it runs",
        };
        let entry = Entry::by(caller, "vm.migrate")
            .target(vm_target(id))
            .detail(format!("to host {} ({how})", request.host));
        let guard = self.lock_for(caller, id, &entry).await?;
        let work = super::migrate::migrate(self.sagas.clone(), caller.clone(), id, request);
        self.detached(guard, |r| entry.outcome(r), work).await
    }

    async fn remove_host(&self, caller: &Principal, key: &str) -> Result<(), AppError> {
        let entry = Entry::by(caller, "host.remove").target(key);
        let result = self
            .host_remove(caller, key.to_string())
            .await
            .map_err(report);
        self.audit.record(entry.outcome(&result)).await;
        result
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
        let guard = self.lock_for(caller, id, &entry).await?;
        let work = forget(self.cx.clone(), caller.clone(), id);
        self.detached(guard, |r| entry.outcome(r), work).await
    }
}
