//! Make a base image from a VM's disk (a template, SPEC §8): copy → publish → tidy. The copy
//! is a full, flattened `qemu-img convert` into a hidden file of the image library; publish
//! links it under its name, never over another file; tidy removes the hidden name. Until tidy,
//! the hidden name is the proof that the image is this operation's (the same file): an undo
//! removes only that, never an image of the same name someone else made. A failure, a cancel
//! or a crash before the end undoes every step: a half-written image never becomes visible.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use app::error::{AppError, ErrorCode};
use app::machine::{OperationKind, OperationProgress, ProgressState};
use app::types::VmId;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{OnFailure, Saga, SagaStep, StepError};
use crate::context::Context;
use crate::host::disk::flatten;
use crate::live::VmChange;

/// How often, at most, progress goes out on the event stream.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateImage {
    /// The operation's public id: its progress events and its cancel carry it.
    pub job: Uuid,
    /// The VM whose disk is copied.
    pub vm: Uuid,
    pub source: PathBuf,
    /// The image's file name in the library.
    pub image: String,
    /// Where the copy is written until it is complete (hidden in the library).
    pub partial: PathBuf,
    /// Where it is published.
    pub target: PathBuf,
    /// The copy's speed limit (`None`: none).
    #[serde(default)]
    pub bytes_per_s: Option<u64>,
    /// Cancels the copy (not recorded: a recovered operation is undone, not continued).
    #[serde(skip)]
    pub cancel: CancellationToken,
    /// How far the copy is, for whoever asks while it runs.
    #[serde(skip)]
    pub percent: Percent,
}

/// A percentage shared between the running copy and its readers.
#[derive(Debug, Clone, Default)]
pub struct Percent(std::sync::Arc<std::sync::atomic::AtomicU8>);

impl Percent {
    pub fn get(&self) -> u8 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set(&self, percent: f32) {
        // Whole percents, never past 100.
        let whole = percent.clamp(0.0, 100.0) as u8;
        self.0.store(whole, std::sync::atomic::Ordering::Relaxed);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageStep {
    /// The flattened copy, into the partial file.
    Copy,
    /// The partial file linked under the image's name.
    Publish,
    /// The partial name removed: the image is the library's.
    Tidy,
}

impl SagaStep for ImageStep {
    const ALL: &'static [Self] = &[ImageStep::Copy, ImageStep::Publish, ImageStep::Tidy];

    fn name(self) -> &'static str {
        match self {
            ImageStep::Copy => "copy",
            ImageStep::Publish => "publish",
            ImageStep::Tidy => "tidy",
        }
    }
}

impl CreateImage {
    /// The progress event of this operation.
    pub fn progress(
        &self,
        percent: u8,
        state: ProgressState,
        error: Option<String>,
    ) -> OperationProgress {
        OperationProgress {
            id: self.job,
            kind: OperationKind::ImageCreate,
            vm: VmId(self.vm),
            target: self.image.clone(),
            percent,
            state,
            error,
        }
    }

    async fn copy(&self, cx: &Context) -> Result<(), StepError> {
        remove_if_there(&self.partial).await?;
        let mut last = Instant::now();
        let report = |percent: f32| {
            self.percent.set(percent);
            if last.elapsed() >= PROGRESS_EVERY {
                last = Instant::now();
                cx.bus.publish(VmChange::Progress {
                    progress: self.progress(self.percent.get(), ProgressState::Running, None),
                    owner: None,
                });
            }
        };
        Ok(flatten(
            &self.source,
            &self.partial,
            self.bytes_per_s,
            report,
            &self.cancel,
        )
        .await?)
    }

    /// Links the complete copy under its name; a link never replaces a file, so an image of
    /// that name made meanwhile is refused, not overwritten.
    async fn publish(&self) -> Result<(), StepError> {
        match tokio::fs::hard_link(&self.partial, &self.target).await {
            Ok(()) => Ok(()),
            // Ran before.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && self.is_ours().await => {
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(StepError::Refused(AppError::new(
                    ErrorCode::MediaAlreadyExists,
                    format!("There is already an image named \"{}\".", self.image),
                )))
            }
            Err(e) => Err(io_failure(e)),
        }
    }

    /// Whether the target is the partial file linked (same file), i.e. this operation's.
    async fn is_ours(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (
            tokio::fs::metadata(&self.partial).await,
            tokio::fs::metadata(&self.target).await,
        ) {
            (Ok(partial), Ok(target)) => {
                (partial.dev(), partial.ino()) == (target.dev(), target.ino())
            }
            _ => false,
        }
    }
}

async fn exists(path: &Path) -> bool {
    tokio::fs::symlink_metadata(path).await.is_ok()
}

fn io_failure(error: std::io::Error) -> StepError {
    StepError::Disk(crate::host::disk::DiskError::Remove {
        path: PathBuf::new(),
        source: error,
    })
}

async fn remove_if_there(path: &Path) -> Result<(), StepError> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_failure(e)),
    }
}

#[async_trait]
impl Saga for CreateImage {
    const KIND: &'static str = "image_create";
    const ON_FAILURE: OnFailure = OnFailure::Unwind;
    type Step = ImageStep;

    fn vm(&self) -> Uuid {
        self.vm
    }

    fn steps(&self) -> Vec<ImageStep> {
        ImageStep::ALL.to_vec()
    }

    async fn run_step(&self, cx: &Context, step: ImageStep) -> Result<(), StepError> {
        match step {
            ImageStep::Copy => self.copy(cx).await,
            ImageStep::Publish => self.publish().await,
            ImageStep::Tidy => remove_if_there(&self.partial).await,
        }
    }

    async fn undo_step(&self, _cx: &Context, step: ImageStep) -> Result<(), StepError> {
        match step {
            ImageStep::Copy => remove_if_there(&self.partial).await,
            // Only the image this operation linked: the same file as its partial name.
            ImageStep::Publish => {
                if self.is_ours().await {
                    remove_if_there(&self.target).await?;
                }
                Ok(())
            }
            // Tidy ran only after this operation's link: its image gets the proof back.
            ImageStep::Tidy => {
                if !exists(&self.partial).await && exists(&self.target).await {
                    tokio::fs::hard_link(&self.target, &self.partial)
                        .await
                        .map_err(io_failure)?;
                }
                Ok(())
            }
        }
    }

    /// Tidy, the last step, removes the partial name once the image is linked.
    async fn completed(&self, _cx: &Context) -> bool {
        exists(&self.target).await && !exists(&self.partial).await
    }

    /// A stopped VM with a disk, made by the create saga, and an image of it.
    #[cfg(feature = "failpoints")]
    async fn example(sagas: &super::Sagas) -> Result<Self, String> {
        let create = super::vm_create::CreateVm::made_stopped(sagas).await?;
        let job = Uuid::new_v4();
        let image = format!("example-{}.qcow2", &job.simple().to_string()[..8]);
        let images = sagas.context().images.dir();
        Ok(CreateImage {
            job,
            vm: create.vm,
            source: create.disk_path,
            partial: images.join(format!("{}{job}", crate::host::library::COPY_PREFIX)),
            target: images.join(&image),
            image,
            bytes_per_s: None,
            cancel: CancellationToken::new(),
            percent: Percent::default(),
        })
    }
}
