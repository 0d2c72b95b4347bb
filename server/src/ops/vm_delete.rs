//! Delete a VM: mark → power off and undefine → delete the disk → delete the record.
//! "Already gone" is success for each step. The record goes even if the domain or the disk could
//! not be removed; those are reported as leftovers (and recorded with the operation).

use std::path::PathBuf;

use app::error::{AppError, ErrorCode};
use app::types::VmStatus;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{OnFailure, OpContext, Saga, SagaStep};
use crate::db::vms as q;
use crate::error::{db_error, disk_error, host_error};
use crate::live::VmChange;
use crate::service::merge;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteVm {
    pub vm: Uuid,
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

fn leftover(what: &str, error: AppError) -> AppError {
    AppError::new(
        error.code,
        format!("{what} could not be removed: {}", error.message),
    )
}

#[async_trait]
impl Saga for DeleteVm {
    const KIND: &'static str = "vm_delete";
    const ON_FAILURE: OnFailure = OnFailure::Continue;
    type Step = DeleteStep;

    fn vm(&self) -> Uuid {
        self.vm
    }

    fn steps(&self) -> Vec<DeleteStep> {
        vec![
            DeleteStep::Mark,
            DeleteStep::RemoveDomain,
            DeleteStep::RemoveDisk,
            DeleteStep::RemoveRecord,
        ]
    }

    async fn run_step(&self, cx: &OpContext, step: DeleteStep) -> Result<(), AppError> {
        let id = self.vm;
        match step {
            DeleteStep::Mark => {
                let generation =
                    i64::try_from(cx.host.live().next_generation()).unwrap_or(i64::MAX);
                let row = cx
                    .db
                    .run(move |conn| {
                        q::vm_set_status(conn, id, VmStatus::Deleting.as_str(), generation)
                    })
                    .await
                    .map_err(db_error)?;
                // Every screen shows that the VM is going away.
                if let Some(row) = row {
                    cx.bus.publish(VmChange::Updated(merge(row, None)));
                }
                Ok(())
            }
            DeleteStep::RemoveDomain => cx
                .host
                .destroy_and_undefine(id)
                .await
                .map_err(|e| leftover("The libvirt domain", host_error(e))),
            // Only a disk Limen made (an adopted VM's may be anyone's): others stay, said so.
            DeleteStep::RemoveDisk if self.disk_path.as_os_str().is_empty() => Ok(()),
            DeleteStep::RemoveDisk if self.disk_path != cx.disks.path_for(id) => {
                Err(AppError::new(
                    ErrorCode::Internal,
                    format!(
                        "The disk {} was not created by Limen and is left in place.",
                        self.disk_path.display()
                    ),
                ))
            }
            DeleteStep::RemoveDisk => cx
                .disks
                .remove(&self.disk_path)
                .await
                .map_err(|e| leftover("The disk", disk_error(e))),
            DeleteStep::RemoveRecord => cx
                .db
                .run(move |conn| q::vm_delete(conn, id).map(drop))
                .await
                .map_err(db_error),
        }
    }

    /// A delete is never undone: it only goes forward.
    async fn undo_step(&self, _cx: &OpContext, _step: DeleteStep) -> Result<(), AppError> {
        Ok(())
    }
}
