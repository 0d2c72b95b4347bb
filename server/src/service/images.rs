//! Base images made from VMs' disks (templates, SPEC §8), for copy-on-write clones: an admin
//! starts one, it runs in the background as a recorded operation (progress on the event
//! stream, cancellable), holding the VM's lock so the VM stays stopped while its disk is read.
//! Deleting an image is refused while a VM's disk is built on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::machine::{image_file_name, CreateImageRequest, OperationProgress, ProgressState};
use app::types::{MediaFile, VmId, VmStatus};
use app::validate::validate_label;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::records::settled_row;
use super::{refused, ServiceError, VmService};
use crate::audit::Entry;
use crate::db::vms as q;
use crate::error::{report, Describe};
use crate::host::disk::image_info;
use crate::host::library::COPY_PREFIX;
use crate::live::VmChange;
use crate::observed;
use crate::ops::image_create::{CreateImage, Percent};

/// The image operations running in this process, by their public id.
#[derive(Clone, Default)]
pub(super) struct Jobs(Arc<Mutex<HashMap<Uuid, Job>>>);

struct Job {
    started: OperationProgress,
    cancel: CancellationToken,
    percent: Percent,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Job>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn admins_only(caller: &Principal) -> Result<(), ServiceError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(refused(AppError::admin_only()))
    }
}

impl VmService {
    /// The image library, each image with the VMs whose disks are built on it.
    pub(super) async fn images(&self, caller: &Principal) -> Result<Vec<MediaFile>, AppError> {
        let mut files = self.cx.images.list().await.map_err(report)?;
        let rows = self.cx.db.run(q::vm_list).await.map_err(report)?;
        for file in &mut files {
            file.used_by = rows
                .iter()
                .filter(|row| row.base_image.as_deref() == Some(file.name.as_str()))
                .filter(|row| caller.may_see(row.owner.as_deref()))
                .map(|row| row.name.clone())
                .collect();
        }
        Ok(files)
    }

    /// Starts making the image; answers at once with the operation's first progress.
    pub(super) async fn start_image(
        &self,
        caller: &Principal,
        request: CreateImageRequest,
    ) -> Result<OperationProgress, ServiceError> {
        admins_only(caller)?;
        validate_label("The image name", &request.name).map_err(refused)?;
        let image = image_file_name(&request.name);
        let id = request.vm.0;
        let guard = self.locks.lock(&id).await;
        let row = settled_row(&self.cx, caller, id).await?;
        let vm = observed::vm_now(&self.cx, id)
            .await?
            .ok_or_else(|| refused(AppError::vm_not_found()))?;
        if vm.status != VmStatus::Stopped {
            return Err(refused(AppError::new(
                ErrorCode::InvalidState,
                format!(
                    "\"{}\" is {}: stop it first, so its disk does not change while it is copied.",
                    vm.name,
                    vm.status.label().to_lowercase()
                ),
            )));
        }
        if self.cx.disks.own(&row.disk_path).is_none() {
            return Err(refused(AppError::new(
                ErrorCode::InvalidState,
                format!(
                    "\"{}\" has a disk of its own (it was adopted): Limen makes base images only of disks it created.",
                    row.name
                ),
            )));
        }
        let exists = || {
            refused(AppError::new(
                ErrorCode::MediaAlreadyExists,
                format!("There is already an image named \"{image}\"."),
            ))
        };
        if self.cx.images.resolve(&image).await.is_ok() {
            return Err(exists());
        }
        let job = Uuid::new_v4();
        let images = self.cx.images.dir();
        let saga = CreateImage {
            job,
            vm: id,
            source: row.disk_path.into(),
            partial: images.join(format!("{COPY_PREFIX}{job}")),
            target: images.join(&image),
            image: image.clone(),
            bytes_per_s: self.settings.image_copy_bytes_per_s,
            cancel: CancellationToken::new(),
            percent: Percent::default(),
        };
        let started = saga.progress(0, ProgressState::Running, None);
        {
            // Checked and claimed at once: two copies to one name cannot both start.
            let mut jobs = self.jobs.lock();
            if jobs.values().any(|job| job.started.target == image) {
                return Err(exists());
            }
            jobs.insert(
                job,
                Job {
                    started: started.clone(),
                    cancel: saga.cancel.clone(),
                    percent: saga.percent.clone(),
                },
            );
        }
        self.cx.bus.publish(VmChange::Progress {
            progress: started.clone(),
            owner: None,
        });
        let entry = Entry::by(caller, "image.create")
            .target(saga.image.clone())
            .detail(format!("from {}", row.name));
        let (sagas, jobs, audit) = (self.sagas.clone(), self.jobs.clone(), self.audit.clone());
        self.cx.tasks.spawn(async move {
            let _guard = guard;
            let began = std::time::Instant::now();
            let result = sagas.execute(&saga).await;
            let end = match &result {
                Ok(_) => saga.progress(100, ProgressState::Done, None),
                Err(_) if saga.cancel.is_cancelled() => {
                    saga.progress(saga.percent.get(), ProgressState::Cancelled, None)
                }
                Err(failure) => saga.progress(
                    saga.percent.get(),
                    ProgressState::Failed,
                    Some(failure.cause.describe().message),
                ),
            };
            jobs.lock().remove(&saga.job);
            let bus = &sagas.context().bus;
            bus.publish(VmChange::Progress {
                progress: end.clone(),
                owner: None,
            });
            if end.state == ProgressState::Done {
                bus.publish(VmChange::MediaChanged);
            }
            let outcome: Result<(), AppError> = match end.state {
                ProgressState::Done => Ok(()),
                ProgressState::Cancelled => {
                    Err(AppError::new(ErrorCode::InvalidState, "cancelled"))
                }
                _ => Err(AppError::new(
                    ErrorCode::Internal,
                    end.error.clone().unwrap_or_default(),
                )),
            };
            let counted = match end.state {
                ProgressState::Done => "succeeded",
                ProgressState::Cancelled => "cancelled",
                _ => "failed",
            };
            crate::metrics::operation_finished(entry.action(), counted, began.elapsed());
            audit.record(entry.outcome(&outcome)).await;
        });
        Ok(started)
    }

    /// A refusal if a base image is being made from this VM's disk: the verbs that would
    /// change or use the VM say so at once instead of waiting for the copy's end.
    pub(super) fn refuse_if_copying(&self, vm: VmId) -> Result<(), AppError> {
        let copying = self.jobs.lock().values().any(|job| job.started.vm == vm);
        if copying {
            return Err(AppError::new(
                ErrorCode::InvalidState,
                "A base image is being made from this VM's disk; wait for it to finish, or cancel it.",
            ));
        }
        Ok(())
    }

    /// The operations running now: snapshot work on the VMs the caller may see, and for
    /// admins the image operations.
    pub(super) fn running_jobs(&self, caller: &Principal) -> Vec<OperationProgress> {
        let mut running = self.snapshot_works.visible(caller);
        if caller.is_admin() {
            running.extend(self.jobs.lock().values().map(|job| OperationProgress {
                percent: job.percent.get(),
                ..job.started.clone()
            }));
        }
        running.sort_by_key(|job| job.id);
        running
    }

    /// Cancels a running image operation: its copy stops and everything it wrote is removed.
    pub(super) fn cancel_job(&self, caller: &Principal, id: Uuid) -> Result<(), ServiceError> {
        admins_only(caller)?;
        let jobs = self.jobs.lock();
        let job = jobs.get(&id).ok_or_else(|| {
            refused(AppError::new(
                ErrorCode::NotFound,
                "No such operation is running (it may have finished).",
            ))
        })?;
        job.cancel.cancel();
        Ok(())
    }

    /// Deletes a base image (admins), refused while a VM's disk is built on it.
    pub(super) async fn remove_image(
        &self,
        caller: &Principal,
        name: &str,
    ) -> Result<(), ServiceError> {
        admins_only(caller)?;
        let image = self.cx.images.resolve(name).await?;
        let rows = self.cx.db.run(q::vm_list).await?;
        let mut users: Vec<&str> = Vec::new();
        for row in &rows {
            let built_on = match row.base_image.as_deref() {
                Some(base) => base == name,
                // Not recorded (a VM made before Limen recorded it, or adopted): its disk says.
                None => match image_info(std::path::Path::new(&row.disk_path))
                    .await
                    .ok()
                    .and_then(|info| info.backing_file)
                {
                    Some(backing) => tokio::fs::canonicalize(backing)
                        .await
                        .is_ok_and(|backing| backing == image),
                    None => false,
                },
            };
            if built_on {
                users.push(row.name.as_str());
            }
        }
        if !users.is_empty() {
            return Err(refused(AppError::new(
                ErrorCode::MediaInUse,
                format!(
                    "The disks of {} are built on \"{name}\": delete those VMs first.",
                    users.join(", ")
                ),
            )));
        }
        self.cx.images.remove(name).await?;
        self.cx.bus.publish(VmChange::MediaChanged);
        Ok(())
    }
}
