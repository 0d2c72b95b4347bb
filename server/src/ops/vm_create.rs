//! Create a VM: record → disk → define → (start) → finish. Any failure undoes every started
//! step.

use std::path::PathBuf;

use app::error::{AppError, ErrorCode};
use app::machine::boots_from_media;
use app::types::{BootOrder, InstallationStatus, VmStatus};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{OnFailure, Saga, SagaStep, StepError};
use crate::context::Context;
use crate::db::models::NewVmRow;
use crate::db::vms as q;
use crate::host::domain_xml::{DomainSpec, DomainType};
use crate::host::{HostKey, LiveState};
use crate::live::VmChange;

/// Everything the steps need, recorded with the operation so `recover` can undo it after a crash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateVm {
    pub vm: Uuid,
    pub name: String,
    /// The host the VM is created on (operations recorded before hosts had keys: `local`).
    #[serde(default)]
    pub host: HostKey,
    /// The user the VM belongs to (`None`: only admins see it).
    #[serde(default)]
    pub owner: Option<String>,
    pub cpu: u32,
    pub memory_mib: u64,
    pub disk_size_gib: u64,
    pub os_type: String,
    pub boot_order: BootOrder,
    pub disk_path: PathBuf,
    pub domain_type: DomainType,
    pub start: bool,
    /// The ISO in the CD-ROM drive: its library name and resolved path.
    #[serde(default)]
    pub iso: Option<(String, PathBuf)>,
    /// The base image (path and format) the disk is a copy-on-write overlay on.
    #[serde(default)]
    pub base_image: Option<(PathBuf, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateStep {
    /// The record, marked `creating`.
    Record,
    /// A qcow2 named after the UUID: blank, or an overlay on the base image.
    Disk,
    /// The persistent libvirt domain.
    Define,
    /// Power on (only when asked).
    Start,
    /// Record the state libvirt reports: the VM stops being `creating` as part of the operation.
    Finish,
}

impl SagaStep for CreateStep {
    const ALL: &'static [Self] = &[
        CreateStep::Record,
        CreateStep::Disk,
        CreateStep::Define,
        CreateStep::Start,
        CreateStep::Finish,
    ];

    fn name(self) -> &'static str {
        match self {
            CreateStep::Record => "record",
            CreateStep::Disk => "disk",
            CreateStep::Define => "define",
            CreateStep::Start => "start",
            CreateStep::Finish => "finish",
        }
    }
}

impl CreateVm {
    fn row(&self, generation: i64) -> Result<NewVmRow, StepError> {
        let too_big =
            |what: &str| StepError::Refused(AppError::validation(format!("{what} is too large.")));
        Ok(NewVmRow {
            uuid: self.vm,
            name: self.name.clone(),
            owner: self.owner.clone(),
            vcpus: i32::try_from(self.cpu).map_err(|_| too_big("The vCPU count"))?,
            memory_mib: i64::try_from(self.memory_mib).map_err(|_| too_big("The memory size"))?,
            disk_size_gb: i64::try_from(self.disk_size_gib)
                .map_err(|_| too_big("The disk size"))?,
            disk_path: self.disk_path.to_string_lossy().into_owned(),
            os_type: self.os_type.clone(),
            boot_order: self.boot_order,
            // Started from its media, it boots the installer: installing from the first start.
            installation_status: if self.start
                && boots_from_media(
                    self.boot_order,
                    self.iso.as_ref().map(|(name, _)| name.as_str()),
                ) {
                InstallationStatus::Installing
            } else {
                InstallationStatus::NotInstalled
            },
            current_media: self.iso.as_ref().map(|(name, _)| name.clone()),
            role: None,
            status: VmStatus::Creating,
            status_generation: 0,
            host: self.host.to_string(),
            generation,
            base_image: self.base_image.as_ref().and_then(|(path, _)| {
                path.file_name()
                    .map(|name| name.to_string_lossy().into_owned())
            }),
        })
    }

    fn domain_spec(&self) -> DomainSpec {
        DomainSpec {
            uuid: self.vm,
            name: self.name.clone(),
            domain_type: self.domain_type,
            vcpus: self.cpu,
            memory_mib: self.memory_mib,
            disk_path: self.disk_path.clone(),
            cdrom_path: self.iso.as_ref().map(|(_, path)| path.clone()),
            boot_order: self.boot_order,
        }
    }
}

#[async_trait]
impl Saga for CreateVm {
    const KIND: &'static str = "vm_create";
    const ON_FAILURE: OnFailure = OnFailure::Unwind;
    type Step = CreateStep;

    fn vm(&self) -> Uuid {
        self.vm
    }

    fn disk(&self) -> Option<&std::path::Path> {
        Some(&self.disk_path)
    }

    fn steps(&self) -> Vec<CreateStep> {
        let mut steps = vec![CreateStep::Record, CreateStep::Disk, CreateStep::Define];
        if self.start {
            steps.push(CreateStep::Start);
        }
        steps.push(CreateStep::Finish);
        steps
    }

    async fn run_step(&self, cx: &Context, step: CreateStep) -> Result<(), StepError> {
        match step {
            CreateStep::Record => {
                let row = self.row(cx.hosts.get(self.host.as_str())?.fresh_generation())?;
                let name = self.name.clone();
                let inserted = cx
                    .db
                    .run(move |conn| match q::vm_fetch(conn, row.uuid)? {
                        Some(_) => Ok(None),
                        None => q::vm_insert(conn, &row).map(Some),
                    })
                    .await
                    .map_err(|e| {
                        if e.is_unique_violation(q::VMS_NAME_KEY) {
                            StepError::Refused(AppError::new(
                                ErrorCode::VmAlreadyExists,
                                format!("A VM named \"{name}\" already exists."),
                            ))
                        } else {
                            e.into()
                        }
                    })?;
                // Every screen shows it at once, as `creating`.
                if let Some(row) = inserted {
                    let live = LiveState::NoDomain { since: 0 };
                    cx.bus.publish(VmChange::Created(row.into_vm(live)));
                }
                Ok(())
            }
            CreateStep::Disk => {
                if tokio::fs::try_exists(&self.disk_path)
                    .await
                    .unwrap_or(false)
                {
                    return Ok(());
                }
                let created = match &self.base_image {
                    Some((base, format)) => {
                        cx.disks
                            .create_overlay(base, format, &self.disk_path, self.disk_size_gib)
                            .await
                    }
                    None => {
                        cx.disks
                            .create_blank(&self.disk_path, self.disk_size_gib)
                            .await
                    }
                };
                Ok(created?)
            }
            CreateStep::Define => {
                let host = cx.hosts.get(self.host.as_str())?;
                if host.observe(self.vm).await?.status.is_some() {
                    return Ok(());
                }
                Ok(host.define(self.domain_spec()).await?)
            }
            CreateStep::Start => Ok(cx
                .hosts
                .get(self.host.as_str())?
                .start_if_stopped(self.vm)
                .await?),
            CreateStep::Finish => {
                let id = self.vm;
                let host = cx.hosts.get(self.host.as_str())?;
                let observed = host.observe(id).await?;
                let status = observed.status.unwrap_or(VmStatus::Missing);
                let generation = i64::try_from(observed.generation).unwrap_or(i64::MAX);
                let fresh = host.fresh_generation();
                let written = cx
                    .db
                    .run(move |conn| q::vm_set_status(conn, id, status, generation, fresh))
                    .await?;
                if let Some(row) = written {
                    host.written_at(row.generation);
                }
                Ok(())
            }
        }
    }

    /// The finish step replaces `creating` with the observed status as its last act.
    async fn completed(&self, cx: &Context) -> bool {
        let id = self.vm;
        matches!(
            cx.db.run(move |conn| q::vm_fetch(conn, id)).await,
            Ok(Some(row)) if row.status != VmStatus::Creating
        )
    }

    async fn undo_step(&self, cx: &Context, step: CreateStep) -> Result<(), StepError> {
        match step {
            CreateStep::Record => {
                let id = self.vm;
                cx.db
                    .run(move |conn| q::vm_delete(conn, id).map(drop))
                    .await?;
                Ok(())
            }
            CreateStep::Disk => Ok(cx.disks.remove(&self.disk_path).await?),
            CreateStep::Define => Ok(cx
                .hosts
                .get(self.host.as_str())?
                .destroy_and_undefine(self.vm)
                .await?),
            CreateStep::Start => Ok(cx.hosts.get(self.host.as_str())?.power_off(self.vm).await?),
            // The record it wrote goes with the record step's undo.
            CreateStep::Finish => Ok(()),
        }
    }

    /// A small VM that starts, with a disk, on the local host.
    #[cfg(feature = "failpoints")]
    async fn example(sagas: &super::Sagas) -> Result<Self, String> {
        let cx = sagas.context();
        let host = cx.hosts.local();
        let vm = Uuid::new_v4();
        Ok(CreateVm {
            vm,
            name: format!("example-{}", &vm.simple().to_string()[..8]),
            host: host.key().clone(),
            owner: None,
            cpu: 1,
            memory_mib: 64,
            disk_size_gib: 1,
            os_type: "linux".into(),
            boot_order: BootOrder::CdromHd,
            disk_path: cx.disks.path_for(vm),
            domain_type: host.domain_type().await.map_err(|e| e.to_string())?,
            start: true,
            iso: None,
            base_image: None,
        })
    }
}

#[cfg(feature = "failpoints")]
impl CreateVm {
    /// Tests only: a stopped VM with a disk, made by this saga, for the examples of the sagas
    /// that work on one.
    pub async fn made_stopped(sagas: &super::Sagas) -> Result<Self, String> {
        let mut create = <Self as Saga>::example(sagas).await?;
        create.start = false;
        sagas
            .execute(&create)
            .await
            .map_err(|failure| crate::error::chain(&failure))?;
        Ok(create)
    }
}
