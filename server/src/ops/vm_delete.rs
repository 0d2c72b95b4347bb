//! Delete a VM: mark → power off and undefine → delete the disk → delete the record.
//! "Already gone" is success for each step. The record goes even if the domain or the disk could
//! not be removed; those are reported as leftovers (and recorded with the operation).

use std::path::PathBuf;

use app::types::VmStatus;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{OnFailure, Saga, SagaStep, StepError};
use crate::context::Context;
use crate::db::vms as q;
use crate::host::{HostKey, LiveState};
use crate::live::VmChange;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteVm {
    pub vm: Uuid,
    /// The host the VM lives on (operations recorded before hosts had keys: `local`).
    #[serde(default)]
    pub host: HostKey,
    pub disk_path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteStep {
    /// Status `deleting`, so every screen shows what is happening.
    Mark,
    /// Power off if running, then undefine with NVRAM and snapshot metadata.
    RemoveDomain,
    /// Only inside the disk directory (checked on the canonical path).
    RemoveDisk,
    RemoveRecord,
}

impl SagaStep for DeleteStep {
    const ALL: &'static [Self] = &[
        DeleteStep::Mark,
        DeleteStep::RemoveDomain,
        DeleteStep::RemoveDisk,
        DeleteStep::RemoveRecord,
    ];

    fn name(self) -> &'static str {
        match self {
            DeleteStep::Mark => "mark",
            DeleteStep::RemoveDomain => "remove_domain",
            DeleteStep::RemoveDisk => "remove_disk",
            DeleteStep::RemoveRecord => "remove_record",
        }
    }

    /// The hypervisor and disk steps may fail without stopping the delete.
    fn required(self) -> bool {
        matches!(self, DeleteStep::Mark | DeleteStep::RemoveRecord)
    }
}

fn not_removed(what: &'static str) -> impl FnOnce(StepError) -> StepError {
    move |cause| StepError::NotRemoved {
        what,
        cause: Box::new(cause),
    }
}

#[async_trait]
impl Saga for DeleteVm {
    const KIND: &'static str = "vm_delete";
    const ON_FAILURE: OnFailure = OnFailure::Continue;
    type Step = DeleteStep;

    fn vm(&self) -> Uuid {
        self.vm
    }

    fn disk(&self) -> Option<&std::path::Path> {
        Some(&self.disk_path)
    }

    fn steps(&self) -> Vec<DeleteStep> {
        DeleteStep::ALL.to_vec()
    }

    async fn run_step(&self, cx: &Context, step: DeleteStep) -> Result<(), StepError> {
        let id = self.vm;
        match step {
            DeleteStep::Mark => {
                // The clock of the VM's host; of the local one if that host is no longer
                // configured (its VMs can still be deleted from the records).
                let host = cx
                    .hosts
                    .get(self.host.as_str())
                    .unwrap_or_else(|_| cx.hosts.local());
                let fresh = host.fresh_generation();
                let row = cx
                    .db
                    .run(move |conn| q::vm_set_status(conn, id, VmStatus::Deleting, fresh, fresh))
                    .await?;
                // Every screen shows that the VM is going away.
                if let Some(row) = row {
                    host.written_at(row.generation);
                    cx.bus
                        .publish(VmChange::Updated(row.into_vm(LiveState::Unknown)));
                }
                Ok(())
            }
            DeleteStep::RemoveDomain => {
                let removed = async {
                    let host = cx.hosts.get(self.host.as_str())?;
                    Ok::<_, StepError>(host.destroy_and_undefine(id).await?)
                };
                removed
                    .await
                    .map_err(not_removed("The VM's libvirt domain"))
            }
            // Only a disk Limen made (an adopted VM's may be anyone's): others stay, said so.
            DeleteStep::RemoveDisk if self.disk_path.as_os_str().is_empty() => Ok(()),
            DeleteStep::RemoveDisk if self.disk_path != cx.disks.path_for(id) => {
                Err(StepError::ForeignDisk(self.disk_path.clone()))
            }
            DeleteStep::RemoveDisk => cx
                .disks
                .remove(&self.disk_path)
                .await
                .map_err(|e| not_removed("The VM's disk")(e.into())),
            DeleteStep::RemoveRecord => {
                cx.db
                    .run(move |conn| q::vm_delete(conn, id).map(drop))
                    .await?;
                Ok(())
            }
        }
    }

    /// A delete is never undone: it only goes forward.
    async fn undo_step(&self, _cx: &Context, _step: DeleteStep) -> Result<(), StepError> {
        Ok(())
    }

    /// A VM to delete: created (and started) by the create saga first.
    #[cfg(feature = "failpoints")]
    async fn example(sagas: &super::Sagas) -> Result<Self, String> {
        let create = super::vm_create::CreateVm::example(sagas).await?;
        sagas
            .execute(&create)
            .await
            .map_err(|failure| crate::error::chain(&failure))?;
        Ok(DeleteVm {
            vm: create.vm,
            host: create.host,
            disk_path: create.disk_path,
        })
    }
}
