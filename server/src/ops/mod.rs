//! Multi-step operations as sagas: a declared list of steps, each with its undo, run by one small
//! runner. The operation and the steps it has started are recorded in `operations` as it goes;
//! a step is recorded *before* it runs, so after a crash every step that may have had an effect
//! is known. `recover` then undoes an unfinished create and finishes an unfinished delete.
//! Every step and every undo is idempotent (check, then act), so running one again is harmless.

pub mod failpoints;
pub mod vm_create;
pub mod vm_delete;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use app::error::{AppError, ErrorCode};
use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::db::operations as q;
use crate::db::Db;
use crate::error::{chain, db_error};
use crate::host::disk::DiskStore;
use crate::host::Host;
use crate::live::EventBus;
pub use failpoints::Failpoints;

/// What steps run against.
#[derive(Clone)]
pub struct OpContext {
    pub db: Db,
    pub host: Arc<Host>,
    pub disks: DiskStore,
    pub failpoints: Failpoints,
    pub bus: Arc<EventBus>,
    pub running: RunningOps,
    /// Where operations run, detached from their request: awaited before the process exits.
    pub tasks: tokio_util::task::TaskTracker,
}

/// The operations this process is carrying out right now: `recover` leaves them alone (an
/// on-demand reconcile must not undo a create that is simply still running).
#[derive(Clone, Default)]
pub struct RunningOps(Arc<Mutex<HashSet<Uuid>>>);

impl RunningOps {
    /// Marks the operation as being carried out here; `None` if it already is.
    fn claim(&self, id: Uuid) -> Option<RunningGuard> {
        let newly = self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
        newly.then(|| RunningGuard {
            ops: self.clone(),
            id,
        })
    }
}

struct RunningGuard {
    ops: RunningOps,
    id: Uuid,
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        let mut ops = self.ops.0.lock().unwrap_or_else(|p| p.into_inner());
        ops.remove(&self.id);
    }
}

/// What happens when a step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Undo every started step, newest first (create: nothing may be left behind).
    Unwind,
    /// Note the failure and go on (delete: clean up as much as possible), unless the step is
    /// `required`, in which case stop and leave the operation for `recover` to finish.
    Continue,
}

pub trait SagaStep: Copy + Send + Sync + 'static {
    fn name(self) -> &'static str;
    /// With `OnFailure::Continue`: whether the operation cannot go on without this step.
    fn required(self) -> bool {
        true
    }
}

#[async_trait]
pub trait Saga: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: &'static str;
    const ON_FAILURE: OnFailure;
    type Step: SagaStep;

    fn vm(&self) -> Uuid;
    /// The steps of this instance, in order.
    fn steps(&self) -> Vec<Self::Step>;
    async fn run_step(&self, cx: &OpContext, step: Self::Step) -> Result<(), AppError>;
    async fn undo_step(&self, cx: &OpContext, step: Self::Step) -> Result<(), AppError>;
    /// For recovery: whether the work visibly completed although the operation was not
    /// recorded as done (the process died, or the database failed, right at the end).
    async fn completed(&self, _cx: &OpContext) -> bool {
        false
    }
}

/// A failed operation: the step that failed and why.
#[derive(Debug)]
pub struct SagaFailure {
    pub step: &'static str,
    pub cause: AppError,
}

/// What a finished operation reports: for `Continue` sagas, what could not be done.
pub type Leftovers = Vec<String>;

/// Runs `saga` from the start, recording it as operation `id`.
pub async fn execute<S: Saga>(
    cx: &OpContext,
    id: Uuid,
    saga: &S,
) -> Result<Leftovers, SagaFailure> {
    let params = serde_json::to_value(saga).expect("saga parameters serialize");
    let vm = saga.vm();
    let _running = cx.running.claim(id);
    cx.db
        .run(move |conn| q::op_insert(conn, id, S::KIND, vm, params))
        .await
        .map_err(|e| SagaFailure {
            step: "start",
            cause: db_error(e),
        })?;
    drive(cx, id, saga, 0).await
}

/// Runs the steps from index `from` on.
async fn drive<S: Saga>(
    cx: &OpContext,
    id: Uuid,
    saga: &S,
    from: usize,
) -> Result<Leftovers, SagaFailure> {
    let steps = saga.steps();
    let mut leftovers = Vec::new();
    for (index, &step) in steps.iter().enumerate().skip(from) {
        let name = step.name();
        let outcome = async {
            cx.db
                .run(move |conn| q::op_step_started(conn, id, name))
                .await
                .map_err(db_error)?;
            cx.failpoints.before(S::KIND, name)?;
            saga.run_step(cx, step).await
        }
        .await;
        cx.failpoints.after(S::KIND, name);
        let Err(cause) = outcome else { continue };
        tracing::warn!(op = %id, kind = S::KIND, step = name, error = %cause, "operation step failed");
        match S::ON_FAILURE {
            OnFailure::Unwind => {
                unwind(cx, id, saga, &steps[..=index], Some(&cause)).await;
                return Err(SagaFailure { step: name, cause });
            }
            OnFailure::Continue if step.required() => {
                // Left `running`: `recover` (at the next start) carries it on from this step.
                return Err(SagaFailure { step: name, cause });
            }
            OnFailure::Continue => leftovers.push(cause.message),
        }
    }
    let (state, error) = if leftovers.is_empty() {
        ("done", None)
    } else {
        ("failed", Some(leftovers.join(" ")))
    };
    // The work is done; if only this bookkeeping fails, `recover` will find it `running`
    // and, every step being idempotent, conclude the same.
    if let Err(e) = cx
        .db
        .run(move |conn| q::op_set_state(conn, id, state, error.as_deref()))
        .await
    {
        tracing::error!(op = %id, error = %chain(&e), "could not record the end of an operation");
    }
    Ok(leftovers)
}

/// Undoes `started` steps, newest first. Undo failures are logged and recorded; the operation
/// stays `unwinding` if any failed, so `recover` tries again. Returns whether all were undone.
async fn unwind<S: Saga>(
    cx: &OpContext,
    id: Uuid,
    saga: &S,
    started: &[S::Step],
    cause: Option<&AppError>,
) -> bool {
    let _ = cx
        .db
        .run(move |conn| q::op_set_state(conn, id, "unwinding", None))
        .await;
    // Newest first, and stop at the first undo that fails: the earlier steps stay in place (a
    // disk is never removed while its domain may still run), and `recover` retries from there.
    let mut undo_failures = Vec::new();
    for &step in started.iter().rev() {
        if let Err(e) = saga.undo_step(cx, step).await {
            tracing::error!(op = %id, step = step.name(), error = %e, "undo failed");
            undo_failures.push(format!("undo of {}: {}", step.name(), e.message));
            break;
        }
    }
    let undone = undo_failures.is_empty();
    let state = if undone { "undone" } else { "unwinding" };
    let mut error = cause.map(|c| c.message.clone()).unwrap_or_default();
    for failure in &undo_failures {
        error.push(' ');
        error.push_str(failure);
    }
    if let Err(e) = cx
        .db
        .run(move |conn| q::op_set_state(conn, id, state, Some(error.trim())))
        .await
    {
        tracing::error!(op = %id, error = %chain(&e), "could not record an unwound operation");
    }
    undone
}

/// What `recover` did with one unfinished operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovered {
    pub operation: Uuid,
    pub kind: String,
    pub vm: Uuid,
    /// `undone`, `finished`, or `failed: …`.
    pub outcome: String,
}

/// Finishes or undoes every operation a crash (or outage) cut off. Run at start, before serving.
pub async fn recover(cx: &OpContext) -> Result<Vec<Recovered>, AppError> {
    let unfinished = cx.db.run(q::op_unfinished).await.map_err(db_error)?;
    let mut report = Vec::new();
    for op in unfinished {
        // Not one this process is carrying out, nor one another recovery took meanwhile…
        let Some(_running) = cx.running.claim(op.id) else {
            continue;
        };
        // …and still unfinished now that it is ours (it may have ended since the listing).
        let id = op.id;
        let state = cx
            .db
            .run(move |conn| q::op_state(conn, id))
            .await
            .map_err(db_error)?;
        if !matches!(state.as_deref(), Some("running" | "unwinding")) {
            continue;
        }
        let outcome = match op.kind.as_str() {
            vm_create::CreateVm::KIND => resume::<vm_create::CreateVm>(cx, &op).await,
            vm_delete::DeleteVm::KIND => resume::<vm_delete::DeleteVm>(cx, &op).await,
            other => Err(format!("unknown operation kind {other:?}")),
        };
        let outcome = outcome.unwrap_or_else(|e| format!("failed: {e}"));
        tracing::info!(op = %op.id, kind = %op.kind, vm = %op.vm_uuid, %outcome, "recovered an unfinished operation");
        report.push(Recovered {
            operation: op.id,
            kind: op.kind,
            vm: op.vm_uuid,
            outcome,
        });
    }
    Ok(report)
}

async fn resume<S: Saga>(
    cx: &OpContext,
    op: &crate::db::models::OperationRow,
) -> Result<String, String> {
    let saga: S = serde_json::from_value(op.params.clone()).map_err(|e| e.to_string())?;
    let steps = saga.steps();
    let started: Vec<S::Step> = steps
        .iter()
        .copied()
        .filter(|step| op.steps_started.iter().any(|name| name == step.name()))
        .collect();
    match S::ON_FAILURE {
        // Every step ran and only the closing bookkeeping was lost: it is done, not undone.
        OnFailure::Unwind if op.state == "running" && saga.completed(cx).await => {
            let id = op.id;
            cx.db
                .run(move |conn| q::op_set_state(conn, id, "done", None))
                .await
                .map_err(|e| chain(&e))?;
            Ok("finished (it had completed)".into())
        }
        OnFailure::Unwind => {
            if unwind(cx, op.id, &saga, &started, None).await {
                Ok("undone".into())
            } else {
                Err("still unwinding: an undo failed (see the log)".into())
            }
        }
        OnFailure::Continue => {
            // Redo the last started step (it may not have completed), then the rest.
            let from = started.len().saturating_sub(1);
            match drive(cx, op.id, &saga, from).await {
                Ok(leftovers) if leftovers.is_empty() => Ok("finished".into()),
                Ok(leftovers) => Ok(format!("finished, leaving: {}", leftovers.join(" "))),
                Err(failure) => Err(format!("{}: {}", failure.step, failure.cause.message)),
            }
        }
    }
}

/// The wire error for a failed create: which step, and why.
pub fn creation_failed(failure: SagaFailure) -> AppError {
    match failure.cause.code {
        // Refusals found while checking keep their own code.
        ErrorCode::VmAlreadyExists | ErrorCode::ValidationFailed => failure.cause,
        _ => AppError::new(
            ErrorCode::VmCreationFailed,
            format!(
                "Creating the VM failed at step \"{}\": {}",
                failure.step, failure.cause.message
            ),
        ),
    }
}
