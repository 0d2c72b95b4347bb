//! Every kind of saga Limen runs, registered once: recovery finds a cut-off operation's kind
//! here, and the generic tests walk this list (fail at every step, every step twice, abort
//! after every step), so a new saga is covered by adding it to [`SAGAS`].

use std::marker::PhantomData;

use futures::future::BoxFuture;
use serde_json::Value;
use uuid::Uuid;

use super::{Leftovers, OnFailure, Saga, SagaFailure, SagaStep, Sagas, StepError};
use crate::context::Context;
use crate::db::models::OperationRow;

/// Every registered saga.
pub static SAGAS: &[&dyn SagaKind] = &[
    &Registered::<super::vm_create::CreateVm>::NEW,
    &Registered::<super::vm_delete::DeleteVm>::NEW,
    &Registered::<super::image_create::CreateImage>::NEW,
    &Registered::<super::snapshot_create::TakeSnapshot>::NEW,
    &Registered::<super::vm_migrate::MigrateVm>::NEW,
];

/// The step names an operation row may hold, per kind: append-only. An operation cut off by a
/// crash is recovered by the next version of Limen from these names, so a step may be renamed
/// or removed only together with a migration that rewrites the rows holding its old name (and
/// then leave this list). The test below fails if a name here has no step any more, and if a
/// step's name is missing here.
pub const PERSISTED_STEPS: &[(&str, &[&str])] = &[
    (
        "vm_create",
        &["record", "disk", "define", "start", "finish"],
    ),
    (
        "vm_delete",
        &["mark", "remove_domain", "remove_disk", "remove_record"],
    ),
    ("image_create", &["copy", "publish", "tidy"]),
    ("snapshot_create", &["take", "record"]),
    ("vm_migrate", &["migrate", "define", "record", "undefine"]),
];

pub fn find(kind: &str) -> Option<&'static dyn SagaKind> {
    SAGAS
        .iter()
        .copied()
        .find(|registered| registered.name() == kind)
}

/// A registered kind of saga, type-erased: what recovery and the generic tests need. Instances
/// travel as their recorded parameters (JSON), as they do in `operations.params`.
pub trait SagaKind: Sync {
    fn name(&self) -> &'static str;
    fn on_failure(&self) -> OnFailure;
    /// Every step name this kind can record.
    fn step_names(&self) -> Vec<&'static str>;
    /// The VM an instance is about.
    fn vm_of(&self, params: &Value) -> Result<Uuid, String>;
    /// The disk file an instance creates or removes, if any.
    fn disk_of(&self, params: &Value) -> Result<Option<std::path::PathBuf>, String>;
    /// The steps of an instance, in order, each with whether it is required.
    fn steps_of(&self, params: &Value) -> Result<Vec<(&'static str, bool)>, String>;
    fn execute<'a>(
        &'a self,
        sagas: &'a Sagas,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Leftovers, SagaFailure>>;
    fn run_step<'a>(
        &'a self,
        cx: &'a Context,
        params: &'a Value,
        step: &'a str,
    ) -> BoxFuture<'a, Result<(), StepError>>;
    fn undo_step<'a>(
        &'a self,
        cx: &'a Context,
        params: &'a Value,
        step: &'a str,
    ) -> BoxFuture<'a, Result<(), StepError>>;
    /// Finishes or undoes a cut-off operation of this kind.
    fn resume<'a>(
        &'a self,
        sagas: &'a Sagas,
        op: &'a OperationRow,
    ) -> BoxFuture<'a, Result<String, String>>;
    /// Tests only: the stage set for an instance, and the instance's parameters.
    #[cfg(feature = "failpoints")]
    fn example<'a>(&'a self, sagas: &'a Sagas) -> BoxFuture<'a, Result<Value, String>>;
}

/// The registration of saga type `S`.
pub struct Registered<S>(PhantomData<fn() -> S>);

impl<S> Registered<S> {
    pub const NEW: Self = Self(PhantomData);
}

fn instance<S: Saga>(params: &Value) -> Result<S, String> {
    serde_json::from_value(params.clone()).map_err(|e| format!("not a {}: {e}", S::KIND))
}

/// The instance recorded in `params`, and its step named `step`.
fn saga_and_step<S: Saga>(params: &Value, step: &str) -> Result<(S, S::Step), StepError> {
    let saga = instance::<S>(params)
        .map_err(|e| StepError::Refused(app::error::AppError::validation(e)))?;
    let step = S::Step::ALL
        .iter()
        .copied()
        .find(|known| known.name() == step)
        .ok_or_else(|| StepError::NoSuchStep(step.to_string()))?;
    Ok((saga, step))
}

impl<S: Saga> SagaKind for Registered<S> {
    fn name(&self) -> &'static str {
        S::KIND
    }

    fn on_failure(&self) -> OnFailure {
        S::ON_FAILURE
    }

    fn step_names(&self) -> Vec<&'static str> {
        S::Step::ALL.iter().map(|step| step.name()).collect()
    }

    fn vm_of(&self, params: &Value) -> Result<Uuid, String> {
        Ok(instance::<S>(params)?.vm())
    }

    fn disk_of(&self, params: &Value) -> Result<Option<std::path::PathBuf>, String> {
        Ok(instance::<S>(params)?
            .disk()
            .map(std::path::Path::to_path_buf))
    }

    fn steps_of(&self, params: &Value) -> Result<Vec<(&'static str, bool)>, String> {
        Ok(instance::<S>(params)?
            .steps()
            .into_iter()
            .map(|step| (step.name(), step.required()))
            .collect())
    }

    fn execute<'a>(
        &'a self,
        sagas: &'a Sagas,
        params: &'a Value,
    ) -> BoxFuture<'a, Result<Leftovers, SagaFailure>> {
        Box::pin(async move {
            let saga = instance::<S>(params).map_err(|e| SagaFailure {
                step: "start",
                cause: StepError::Refused(app::error::AppError::validation(e)),
            })?;
            sagas.execute(&saga).await
        })
    }

    fn run_step<'a>(
        &'a self,
        cx: &'a Context,
        params: &'a Value,
        step: &'a str,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let (saga, step) = saga_and_step::<S>(params, step)?;
            saga.run_step(cx, step).await
        })
    }

    fn undo_step<'a>(
        &'a self,
        cx: &'a Context,
        params: &'a Value,
        step: &'a str,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let (saga, step) = saga_and_step::<S>(params, step)?;
            saga.undo_step(cx, step).await
        })
    }

    fn resume<'a>(
        &'a self,
        sagas: &'a Sagas,
        op: &'a OperationRow,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(sagas.resume::<S>(op))
    }

    #[cfg(feature = "failpoints")]
    fn example<'a>(&'a self, sagas: &'a Sagas) -> BoxFuture<'a, Result<Value, String>> {
        Box::pin(async move {
            let saga = S::example(sagas).await?;
            serde_json::to_value(&saga).map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parameters as earlier versions recorded them (before hosts had keys) still read: an
    /// operation a crash cut off before an upgrade is recovered after it.
    #[test]
    fn parameters_recorded_by_earlier_versions_still_read() {
        let recorded = [
            (
                "vm_create",
                serde_json::json!({
                    "vm": "5f0e0a34-6d43-4d1e-9a3e-2f6a3c1d9b10", "name": "web", "owner": "alice",
                    "cpu": 1, "memory_mib": 512, "disk_size_gib": 4, "os_type": "linux",
                    "boot_order": "cdrom_hd", "disk_path": "/var/lib/limen/disks/x.qcow2",
                    "domain_type": "qemu", "start": true,
                    "iso": ["debian.iso", "/var/lib/limen/isos/debian.iso"], "base_image": null
                }),
            ),
            (
                "vm_delete",
                serde_json::json!({
                    "vm": "5f0e0a34-6d43-4d1e-9a3e-2f6a3c1d9b10",
                    "disk_path": "/var/lib/limen/disks/x.qcow2"
                }),
            ),
        ];
        for (kind, params) in recorded {
            let registered = find(kind).unwrap();
            assert!(registered.vm_of(&params).is_ok(), "{kind}");
            assert!(!registered.steps_of(&params).unwrap().is_empty(), "{kind}");
            assert_eq!(
                registered.disk_of(&params).unwrap(),
                Some("/var/lib/limen/disks/x.qcow2".into()),
                "{kind}"
            );
        }
    }

    #[test]
    fn kinds_are_registered_once() {
        let mut names: Vec<_> = SAGAS.iter().map(|kind| kind.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SAGAS.len());
    }

    /// A persisted step name that no longer exists would make recovery refuse the operations
    /// that hold it; a step missing from the list would be renamed without anyone noticing.
    #[test]
    fn persisted_step_names_stay_known_and_every_step_is_listed() {
        for (kind, persisted) in PERSISTED_STEPS {
            let registered = find(kind).unwrap_or_else(|| {
                panic!(
                    "operations of kind {kind:?} may still be recorded, but it is not registered"
                )
            });
            let names = registered.step_names();
            for step in *persisted {
                assert!(
                    names.contains(step),
                    "{kind}.{step} may still be recorded in `operations`: keep the step, or \
                     migrate the rows that hold it"
                );
            }
        }
        for kind in SAGAS {
            let persisted = PERSISTED_STEPS
                .iter()
                .find(|(name, _)| *name == kind.name())
                .map(|(_, steps)| *steps)
                .unwrap_or_else(|| panic!("add {:?} to PERSISTED_STEPS", kind.name()));
            for step in kind.step_names() {
                assert!(
                    persisted.contains(&step),
                    "add {}.{step} to PERSISTED_STEPS",
                    kind.name()
                );
            }
        }
    }
}
