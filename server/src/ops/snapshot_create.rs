//! Take a snapshot: take → record. libvirt takes it atomically (whole, or not at all); the
//! record says who took it. A failure or a crash before the end undoes both: no snapshot
//! without its author is left by Limen, and none is half-made by anyone.

use app::machine::{OperationKind, OperationProgress, ProgressState};
use app::types::VmId;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{OnFailure, Saga, SagaStep, StepError};
use crate::context::Context;
use crate::db::snapshots as q;
use crate::host::snapshots::snapshot_xml;
use crate::host::{HostError, HostKey};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TakeSnapshot {
    /// The public id of the operation: its progress events carry it.
    pub job: Uuid,
    pub vm: Uuid,
    #[serde(default)]
    pub host: HostKey,
    pub name: String,
    pub description: Option<String>,
    /// With the VM's memory (a running or paused VM).
    pub memory: bool,
    /// Who asked (`None`: Limen itself).
    pub created_by: Option<String>,
    /// The disk's size now (GiB): a revert brings it back.
    #[serde(default)]
    pub disk_size_gb: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotStep {
    /// libvirt takes it (atomically).
    Take,
    /// Its author is recorded.
    Record,
}

impl SagaStep for SnapshotStep {
    const ALL: &'static [Self] = &[SnapshotStep::Take, SnapshotStep::Record];

    fn name(self) -> &'static str {
        match self {
            SnapshotStep::Take => "take",
            SnapshotStep::Record => "record",
        }
    }
}

impl TakeSnapshot {
    /// The progress event of this operation.
    pub fn progress(&self, state: ProgressState, error: Option<String>) -> OperationProgress {
        OperationProgress {
            id: self.job,
            kind: OperationKind::SnapshotCreate,
            vm: VmId(self.vm),
            target: self.name.clone(),
            percent: if state == ProgressState::Done { 100 } else { 0 },
            state,
            error,
        }
    }
}

#[async_trait]
impl Saga for TakeSnapshot {
    const KIND: &'static str = "snapshot_create";
    const ON_FAILURE: OnFailure = OnFailure::Unwind;
    type Step = SnapshotStep;

    fn vm(&self) -> Uuid {
        self.vm
    }

    fn steps(&self) -> Vec<SnapshotStep> {
        SnapshotStep::ALL.to_vec()
    }

    async fn run_step(&self, cx: &Context, step: SnapshotStep) -> Result<(), StepError> {
        let host = cx.hosts.get(self.host.as_str())?;
        match step {
            // Run again after a crash: the snapshot it took is there.
            SnapshotStep::Take if host.has_snapshot(self.vm, self.name.clone()).await? => Ok(()),
            SnapshotStep::Take => {
                let xml = snapshot_xml(&self.name, self.description.as_deref(), self.memory);
                Ok(host.take_snapshot(self.vm, xml).await?)
            }
            SnapshotStep::Record => {
                let (vm, name, by) = (self.vm, self.name.clone(), self.created_by.clone());
                let size = self.disk_size_gb;
                cx.db
                    .run(move |conn| q::insert(conn, vm, &name, by.as_deref(), size))
                    .await?;
                Ok(())
            }
        }
    }

    async fn undo_step(&self, cx: &Context, step: SnapshotStep) -> Result<(), StepError> {
        match step {
            // The service refused a name already taken, under the VM's lock: a snapshot of
            // this name is this operation's.
            SnapshotStep::Take => {
                let host = cx.hosts.get(self.host.as_str())?;
                match host.delete_snapshot(self.vm, self.name.clone()).await {
                    Ok(_) | Err(HostError::NoDomain) => Ok(()),
                    Err(error) => Err(error.into()),
                }
            }
            SnapshotStep::Record => {
                let (vm, name) = (self.vm, self.name.clone());
                cx.db.run(move |conn| q::delete(conn, vm, &name)).await?;
                Ok(())
            }
        }
    }

    /// Record, the last step, is done when the author's row is there (and the snapshot).
    async fn completed(&self, cx: &Context) -> bool {
        let Ok(host) = cx.hosts.get(self.host.as_str()) else {
            return false;
        };
        let (vm, name) = (self.vm, self.name.clone());
        let recorded = cx
            .db
            .run(move |conn| q::of_vm(conn, vm))
            .await
            .is_ok_and(|rows| rows.iter().any(|row| row.name == name));
        recorded
            && host
                .has_snapshot(self.vm, self.name.clone())
                .await
                .unwrap_or(false)
    }

    /// A stopped VM made by the create saga, and a snapshot of it.
    #[cfg(feature = "failpoints")]
    async fn example(sagas: &super::Sagas) -> Result<Self, String> {
        let create = super::vm_create::CreateVm::made_stopped(sagas).await?;
        Ok(TakeSnapshot {
            job: Uuid::new_v4(),
            vm: create.vm,
            host: create.host,
            name: "example".into(),
            description: Some("taken by the generic saga tests".into()),
            memory: false,
            created_by: None,
            disk_size_gb: Some(1),
        })
    }
}
