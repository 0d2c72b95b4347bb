//! Move a VM to another host (SPEC §13).
//!
//! - A running VM migrates live: libvirt copies its memory while it runs and switches over
//!   (migrate → record). The record moves only once libvirt says the VM runs there.
//! - A stopped VM moves by its definition: defined there → recorded there → undefined here.
//!
//! Disks do not move: every host sees Limen's data dir as the same shared storage. A failure
//! undoes what was done, newest first, so the VM is left where it was, running if it ran: a
//! live migration libvirt could not finish leaves the VM running on the source, and one that
//! finished but could not be recorded is migrated back.

use std::sync::Arc;
use std::time::Duration;

use app::error::{AppError, ErrorCode};
use app::machine::{OperationKind, OperationProgress, ProgressState};
use app::types::{VmAction, VmId, VmStatus};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{OnFailure, Saga, SagaStep, StepError};
use crate::context::Context;
use crate::db::vms as q;
use crate::host::{Host, HostKey};
use crate::live::VmChange;

/// How often a live migration's progress is read and published.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MigrateVm {
    /// The public id of the operation: its progress events carry it.
    pub job: Uuid,
    pub vm: Uuid,
    pub from: HostKey,
    pub to: HostKey,
    /// Live (a running VM), or by its definition (a stopped one).
    pub live: bool,
    /// It ran (not paused) when the move began: a move undone leaves it running.
    #[serde(default)]
    pub running: bool,
    /// Whose VM (progress events go to them and to admins).
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrateStep {
    /// libvirt migrates the running VM (live).
    Migrate,
    /// The definition is defined on the destination (stopped VM).
    Define,
    /// The record names the destination.
    Record,
    /// The source forgets the definition (stopped VM).
    Undefine,
}

impl SagaStep for MigrateStep {
    const ALL: &'static [Self] = &[
        MigrateStep::Migrate,
        MigrateStep::Define,
        MigrateStep::Record,
        MigrateStep::Undefine,
    ];

    fn name(self) -> &'static str {
        match self {
            MigrateStep::Migrate => "migrate",
            MigrateStep::Define => "define",
            MigrateStep::Record => "record",
            MigrateStep::Undefine => "undefine",
        }
    }
}

impl MigrateVm {
    /// The progress event of this operation.
    pub fn progress(
        &self,
        state: ProgressState,
        percent: u8,
        error: Option<String>,
    ) -> OperationProgress {
        OperationProgress {
            id: self.job,
            kind: OperationKind::VmMigrate,
            vm: VmId(self.vm),
            target: self.to.to_string(),
            percent,
            state,
            error,
        }
    }

    fn publish(&self, cx: &Context, progress: OperationProgress) {
        cx.bus.publish(VmChange::Progress {
            progress,
            owner: self.owner.clone(),
        });
    }

    fn hosts(&self, cx: &Context) -> Result<(Arc<Host>, Arc<Host>), StepError> {
        Ok((
            cx.hosts.get(self.from.as_str())?,
            cx.hosts.get(self.to.as_str())?,
        ))
    }

    /// Live: libvirt's migration, with its progress published while it runs.
    async fn migrate_live(
        &self,
        cx: &Context,
        source: &Arc<Host>,
        target: &Arc<Host>,
    ) -> Result<(), StepError> {
        let reporter = {
            let (source, saga, cx) = (Arc::clone(source), self.clone(), cx.clone());
            tokio::spawn(async move {
                let mut every = tokio::time::interval(PROGRESS_EVERY);
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut last = None;
                loop {
                    every.tick().await;
                    if let Ok(Some(job)) = source.job_progress(saga.vm).await {
                        // Never backwards: libvirt's remaining bytes grow again when the
                        // guest dirties memory faster than it is copied.
                        let percent = job.percent();
                        if last.is_none_or(|last| percent > last) {
                            last = Some(percent);
                            saga.publish(&cx, saga.progress(ProgressState::Running, percent, None));
                        }
                    }
                }
            })
        };
        let migrated = source.migrate_live(self.vm, target).await;
        reporter.abort();
        Ok(migrated?)
    }

    /// Moves the record from `from` to `to` and publishes the VM as the host it is on says.
    async fn record_on(
        &self,
        cx: &Context,
        from: &HostKey,
        to: &Arc<Host>,
    ) -> Result<(), StepError> {
        let (id, from_key, to_key) = (self.vm, from.to_string(), to.key().to_string());
        let observation = to.observe(id).await?;
        // Where it has no domain (an undo after the destination lost it), the record says so.
        let status = (
            observation.status.unwrap_or(VmStatus::Missing),
            i64::try_from(observation.generation).unwrap_or(i64::MAX),
        );
        let fresh = to.fresh_generation();
        let row = cx
            .db
            .run(move |conn| q::vm_set_host(conn, id, &from_key, &to_key, status, fresh))
            .await?;
        if let Some(row) = row {
            to.written_at(row.generation);
            cx.bus
                .publish(VmChange::Updated(row.into_vm(observation.live_state())));
        }
        Ok(())
    }
}

/// Whether the host runs (or has paused) the domain now, asking libvirt.
async fn active_on(host: &Arc<Host>, id: Uuid) -> Result<bool, StepError> {
    match host.observe(id).await?.status {
        Some(status) => Ok(status.is_active()),
        None => Ok(false),
    }
}

#[async_trait]
impl Saga for MigrateVm {
    const KIND: &'static str = "vm_migrate";
    const ON_FAILURE: OnFailure = OnFailure::Unwind;
    type Step = MigrateStep;

    fn vm(&self) -> Uuid {
        self.vm
    }

    fn steps(&self) -> Vec<MigrateStep> {
        if self.live {
            vec![MigrateStep::Migrate, MigrateStep::Record]
        } else {
            vec![
                MigrateStep::Define,
                MigrateStep::Record,
                MigrateStep::Undefine,
            ]
        }
    }

    async fn run_step(&self, cx: &Context, step: MigrateStep) -> Result<(), StepError> {
        let (source, target) = self.hosts(cx)?;
        match step {
            MigrateStep::Migrate => {
                // Run again after a crash: it may have finished.
                if active_on(&target, self.vm).await? && !source.domain_exists(self.vm).await? {
                    return Ok(());
                }
                self.migrate_live(cx, &source, &target).await
            }
            MigrateStep::Define => {
                if !target.domain_exists(self.vm).await? {
                    let xml = source.persistent_xml(self.vm).await?;
                    target.define_xml(xml).await?;
                }
                Ok(())
            }
            MigrateStep::Record => self.record_on(cx, &self.from, &target).await,
            MigrateStep::Undefine => Ok(source.undefine_stopped(self.vm).await?),
        }
    }

    async fn undo_step(&self, cx: &Context, step: MigrateStep) -> Result<(), StepError> {
        let (source, target) = self.hosts(cx)?;
        match step {
            // It must run where it ran, and only there. Where it runs decides. On the destination only: libvirt finished, so it moves
            // back. On neither, paused on the source (a migration cut off by a crash): if it
            // ran, it runs again there. Running on the destination with a copy still on the
            // source (libvirt's last step on the source was lost): never resume that copy (two
            // QEMUs on one disk); left unwinding, said in the log, for recovery or an admin.
            MigrateStep::Migrate => {
                let on_source = source.domain_exists(self.vm).await?;
                if active_on(&target, self.vm).await? {
                    if on_source {
                        return Err(StepError::Refused(AppError::new(
                            ErrorCode::InvalidState,
                            "The VM runs on the destination and a copy of it is still on the \
                             source: neither is touched.",
                        )));
                    }
                    target.migrate_live(self.vm, &source).await?;
                } else if on_source
                    && self.running
                    && source.observe(self.vm).await?.status == Some(VmStatus::Paused)
                {
                    source.act(self.vm, VmAction::Resume).await?;
                }
                Ok(())
            }
            // Never the only definition there is.
            MigrateStep::Define => {
                if source.domain_exists(self.vm).await? {
                    target.undefine_stopped(self.vm).await?;
                }
                Ok(())
            }
            MigrateStep::Record => self.record_on(cx, &self.to, &source).await,
            MigrateStep::Undefine => {
                if !source.domain_exists(self.vm).await? {
                    let xml = target.persistent_xml(self.vm).await?;
                    source.define_xml(xml).await?;
                }
                Ok(())
            }
        }
    }

    /// Done when the record names the destination, which has the domain, and the source
    /// does not. A live migration libvirt finished undefined it on the source: a source that
    /// cannot be asked is not a reason to migrate the VM back.
    async fn completed(&self, cx: &Context) -> bool {
        let Ok((source, target)) = self.hosts(cx) else {
            return false;
        };
        let id = self.vm;
        let recorded_there = cx
            .db
            .run(move |conn| q::vm_fetch(conn, id))
            .await
            .is_ok_and(|row| row.is_some_and(|row| row.host == self.to.as_str()));
        recorded_there
            && target.domain_exists(id).await.unwrap_or(false)
            && !source.domain_exists(id).await.unwrap_or(!self.live)
    }

    /// A stopped VM made by the create saga, moved by its definition to a second host: the
    /// real second libvirt of the tests (`LIMEN_TEST_SECOND_HOST`) beside a real libvirtd, a
    /// test driver of its own beside the test driver.
    #[cfg(feature = "failpoints")]
    async fn example(sagas: &super::Sagas) -> Result<Self, String> {
        let create = super::vm_create::CreateVm::made_stopped(sagas).await?;
        let cx = sagas.context();
        let uri = if cx.hosts.local().uri().starts_with("test:") {
            let node = std::env::temp_dir().join("limen-example-destination.xml");
            std::fs::write(&node, "<node><memory>8388608</memory></node>")
                .map_err(|e| e.to_string())?;
            format!("test://{}", node.display())
        } else {
            std::env::var("LIMEN_TEST_SECOND_HOST")
                .map_err(|_| "LIMEN_TEST_SECOND_HOST is not set".to_string())?
        };
        let key = HostKey::from("example-destination");
        let row = crate::db::hosts::HostRow {
            key: key.to_string(),
            name: key.to_string(),
            uri: uri.clone(),
            enabled: true,
            libvirt_uuid: None,
            added_at: chrono::Utc::now(),
        };
        let inserted = cx
            .db
            .run(move |conn| crate::db::hosts::host_insert(conn, &row).map(drop))
            .await;
        if let Err(error) = inserted {
            if !error.is_unique_violation(crate::db::hosts::HOSTS_PKEY) {
                return Err(error.to_string());
            }
        }
        cx.hosts.add(cx.hosts.make(key.clone(), &uri));
        Ok(MigrateVm {
            job: Uuid::new_v4(),
            vm: create.vm,
            from: create.host,
            to: key,
            live: false,
            running: false,
            owner: None,
        })
    }
}
