//! Multi-step operations as sagas: a declared list of steps, each with its undo, run by one small
//! runner ([`Sagas`]). The operation and the steps it has started are recorded in `operations`
//! as it goes; a step is recorded *before* it runs, so after a crash every step that may have
//! had an effect is known. [`Sagas::recover`] then undoes an unfinished operation or finishes
//! it, as its kind says. Every step and every undo is idempotent (check, then act), so running
//! one again is harmless.
//!
//! A new kind of saga is one file with a [`Saga`] implementation and one line in
//! [`registry::SAGAS`]; recovery and the generic tests (fail at every step, every step twice,
//! abort after every step) pick it up from there.

pub mod failpoints;
pub mod image_create;
pub mod registry;
mod runner;
pub mod snapshot_create;
pub mod vm_create;
pub mod vm_delete;
pub mod vm_migrate;

use std::path::PathBuf;

use app::error::AppError;
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::context::Context;
use crate::db::DbError;
use crate::error::Describe;
use crate::host::disk::DiskError;
use crate::host::HostError;
pub use failpoints::Failpoints;
pub use registry::SagaKind;
pub use runner::{Leftovers, Recovered, Sagas};

/// What happens when a step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Undo every started step, newest first (create: nothing may be left behind).
    Unwind,
    /// Note the failure and go on (delete: clean up as much as possible), unless the step is
    /// `required`, in which case stop and leave the operation for `recover` to finish.
    Continue,
}

pub trait SagaStep: Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// Every step of this kind, whatever an instance uses.
    const ALL: &'static [Self];
    /// The name recorded in `operations.steps_started`. Persisted: see
    /// `registry::PERSISTED_STEPS` before renaming one.
    fn name(self) -> &'static str;
    /// With `OnFailure::Continue`: whether the operation cannot go on without this step.
    fn required(self) -> bool {
        true
    }
}

#[async_trait]
pub trait Saga: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The name recorded in `operations.kind`.
    const KIND: &'static str;
    const ON_FAILURE: OnFailure;
    type Step: SagaStep;

    fn vm(&self) -> Uuid;
    /// The disk file this operation creates or removes, if any: reconcile does not call it an
    /// orphan while the operation is unfinished.
    fn disk(&self) -> Option<&std::path::Path> {
        None
    }
    /// The steps of this instance, in order.
    fn steps(&self) -> Vec<Self::Step>;
    async fn run_step(&self, cx: &Context, step: Self::Step) -> Result<(), StepError>;
    async fn undo_step(&self, cx: &Context, step: Self::Step) -> Result<(), StepError>;
    /// For recovery: whether the work visibly completed although the operation was not
    /// recorded as done (the process died, or the database failed, right at the end).
    async fn completed(&self, _cx: &Context) -> bool {
        false
    }
    /// Tests only: sets the stage for an instance of this saga (e.g. a VM to delete) and
    /// returns it, for the generic tests every registered saga goes through.
    #[cfg(feature = "failpoints")]
    async fn example(sagas: &Sagas) -> Result<Self, String>
    where
        Self: Sized;
}

/// Why a step failed. `Display` says what failed; the cause is the `source`.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("a database step failed")]
    Db(#[from] DbError),
    #[error("a hypervisor step failed")]
    Host(#[from] HostError),
    #[error("a disk step failed")]
    Disk(#[from] DiskError),
    /// A decision for the user (the name is taken, a number is too large): said as it is.
    #[error("{0}")]
    Refused(AppError),
    /// Deleting left something behind: `what` could not be removed.
    #[error("{what} could not be removed")]
    NotRemoved {
        what: &'static str,
        #[source]
        cause: Box<StepError>,
    },
    /// An adopted VM's disk lives where its owner put it: Limen never deletes it.
    #[error("the disk {} was not created by Limen", .0.display())]
    ForeignDisk(PathBuf),
    #[error("injected failure at {0}")]
    Injected(String),
    #[error("there is no step {0:?}")]
    NoSuchStep(String),
}

impl Describe for StepError {
    fn describe(&self) -> AppError {
        match self {
            StepError::Db(error) => error.describe(),
            StepError::Host(error) => error.describe(),
            StepError::Disk(error) => error.describe(),
            StepError::Refused(error) => error.clone(),
            StepError::NotRemoved { what, cause } => {
                let cause = cause.describe();
                AppError::new(
                    cause.code,
                    format!("{what} could not be removed: {}", cause.message),
                )
            }
            StepError::ForeignDisk(path) => AppError::new(
                app::error::ErrorCode::Internal,
                format!(
                    "The disk {} is the adopted VM's own (Limen did not create it): it is left \
                     in place.",
                    path.file_name()
                        .map_or_else(|| "?".into(), |name| name.to_string_lossy())
                ),
            ),
            StepError::Injected(point) => AppError::new(
                app::error::ErrorCode::Internal,
                format!("injected failure at {point}"),
            ),
            StepError::NoSuchStep(name) => AppError::new(
                app::error::ErrorCode::Internal,
                format!("There is no step {name:?}."),
            ),
        }
    }
}

/// A failed operation: the step that failed and why.
#[derive(Debug, thiserror::Error)]
#[error("the operation failed at step {step}")]
pub struct SagaFailure {
    pub step: &'static str,
    #[source]
    pub cause: StepError,
}
