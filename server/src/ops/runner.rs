//! The saga runner: runs a saga's steps in order, recording each before it runs; unwinds or
//! goes on when one fails, as the saga's kind says; and, after a crash, finishes or undoes
//! whatever the `operations` table shows cut off.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use uuid::Uuid;

use super::registry;
use super::{Failpoints, OnFailure, Saga, SagaFailure, SagaStep, StepError};
use crate::context::Context;
use crate::db::models::OperationRow;
use crate::db::operations as q;
use crate::db::stored::OperationState;
use crate::db::DbError;
use crate::error::{chain, Describe};

/// What a finished operation reports: for `Continue` sagas, what could not be done (sentences
/// for users).
pub type Leftovers = Vec<String>;

/// Runs sagas against a context. Cheap to clone.
#[derive(Clone)]
pub struct Sagas {
    cx: Context,
    failpoints: Failpoints,
    running: RunningOps,
}

/// The operations this process is carrying out right now: `recover` leaves them alone (an
/// on-demand reconcile must not undo a create that is simply still running).
#[derive(Clone, Default)]
struct RunningOps(Arc<Mutex<HashSet<Uuid>>>);

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

/// What `recover` did with one unfinished operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recovered {
    pub operation: Uuid,
    pub kind: String,
    pub vm: Uuid,
    /// `undone`, `finished`, or `failed: …` (sentences for users; the log has the chain).
    pub outcome: String,
}

impl Sagas {
    pub fn new(cx: Context, failpoints: Failpoints) -> Self {
        Self {
            cx,
            failpoints,
            running: RunningOps::default(),
        }
    }

    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// The same runner with other failpoints (tests: "as after a restart").
    pub fn with_failpoints(&self, failpoints: Failpoints) -> Self {
        Self {
            failpoints,
            ..self.clone()
        }
    }

    /// Runs `saga` from the start as a new operation. A failure is returned, not logged: the
    /// caller reports it.
    pub async fn execute<S: Saga>(&self, saga: &S) -> Result<Leftovers, SagaFailure> {
        let id = Uuid::new_v4();
        let params = serde_json::to_value(saga).expect("saga parameters serialize");
        let vm = saga.vm();
        let _running = self.running.claim(id);
        self.cx
            .db
            .run(move |conn| q::op_insert(conn, id, S::KIND, vm, params))
            .await
            .map_err(|e| SagaFailure {
                step: "start",
                cause: e.into(),
            })?;
        self.drive(id, saga, 0).await
    }

    /// Runs the steps from index `from` on.
    async fn drive<S: Saga>(
        &self,
        id: Uuid,
        saga: &S,
        from: usize,
    ) -> Result<Leftovers, SagaFailure> {
        let cx = &self.cx;
        let steps = saga.steps();
        let mut leftovers = Vec::new();
        for (index, &step) in steps.iter().enumerate().skip(from) {
            let name = step.name();
            let outcome = async {
                cx.db
                    .run(move |conn| q::op_step_started(conn, id, name))
                    .await?;
                self.failpoints.before(S::KIND, name)?;
                saga.run_step(cx, step).await?;
                self.failpoints.ran(S::KIND, name)
            }
            .await;
            self.failpoints.after(S::KIND, name);
            let Err(cause) = outcome else { continue };
            match S::ON_FAILURE {
                OnFailure::Unwind => {
                    self.unwind(id, saga, &steps[..=index], Some(&cause)).await;
                    return Err(SagaFailure { step: name, cause });
                }
                OnFailure::Continue if step.required() => {
                    // Left `running`: `recover` (at the next start) carries it on from this step.
                    return Err(SagaFailure { step: name, cause });
                }
                OnFailure::Continue => {
                    // Not returned as an error: this is the one place its chain is logged.
                    tracing::warn!(op = %id, kind = S::KIND, step = name, error = %chain(&cause), "operation step failed; going on");
                    leftovers.push(cause.describe().message);
                }
            }
        }
        let (state, error) = if leftovers.is_empty() {
            (OperationState::Done, None)
        } else {
            (OperationState::Failed, Some(leftovers.join(" ")))
        };
        // The work is done; if only this bookkeeping fails, `recover` will find it `running`
        // and, every step being idempotent, conclude the same.
        if let Err(e) = self.set_state(id, state, error).await {
            tracing::error!(op = %id, error = %chain(&e), "could not record the end of an operation");
        }
        Ok(leftovers)
    }

    async fn set_state(
        &self,
        id: Uuid,
        state: OperationState,
        error: Option<String>,
    ) -> Result<(), DbError> {
        self.cx
            .db
            .run(move |conn| q::op_set_state(conn, id, state, error.as_deref()))
            .await
    }

    /// Undoes `started` steps, newest first. Undo failures are logged and recorded; the
    /// operation stays `unwinding` if any failed, so `recover` tries again. Returns whether all
    /// were undone.
    async fn unwind<S: Saga>(
        &self,
        id: Uuid,
        saga: &S,
        started: &[S::Step],
        cause: Option<&StepError>,
    ) -> bool {
        let _ = self.set_state(id, OperationState::Unwinding, None).await;
        // Newest first, and stop at the first undo that fails: the earlier steps stay in place
        // (a disk is never removed while its domain may still run), and `recover` retries.
        let mut undo_failure = None;
        for &step in started.iter().rev() {
            if let Err(e) = saga.undo_step(&self.cx, step).await {
                tracing::error!(op = %id, step = step.name(), error = %chain(&e), "undo failed");
                undo_failure = Some(format!("undo of {}: {}", step.name(), e.describe().message));
                break;
            }
        }
        let undone = undo_failure.is_none();
        let state = if undone {
            OperationState::Undone
        } else {
            OperationState::Unwinding
        };
        let error = [cause.map(|c| c.describe().message), undo_failure]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if let Err(e) = self.set_state(id, state, Some(error)).await {
            tracing::error!(op = %id, error = %chain(&e), "could not record an unwound operation");
        }
        undone
    }

    /// Finishes or undoes every operation a crash (or outage) cut off. Run at start, before
    /// serving, and by every reconcile.
    pub async fn recover(&self) -> Result<Vec<Recovered>, DbError> {
        let unfinished = self.cx.db.run(q::op_unfinished).await?;
        let mut report = Vec::new();
        for op in unfinished {
            // Not one this process is carrying out, nor one another recovery took meanwhile…
            let Some(_running) = self.running.claim(op.id) else {
                continue;
            };
            // …and still unfinished now that it is ours (it may have ended since the listing).
            let id = op.id;
            let state = self.cx.db.run(move |conn| q::op_state(conn, id)).await?;
            if !state.is_some_and(OperationState::is_unfinished) {
                continue;
            }
            let outcome = match registry::find(&op.kind) {
                Some(kind) => kind.resume(self, &op).await,
                None => Err(format!(
                    "this version of Limen does not know operations of kind {:?}",
                    op.kind
                )),
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

    /// Carries on an unfinished operation of kind `S` as recorded in `op`.
    pub(super) async fn resume<S: Saga>(&self, op: &OperationRow) -> Result<String, String> {
        let saga: S = serde_json::from_value(op.params.clone()).map_err(|e| {
            tracing::warn!(op = %op.id, error = %e, "an operation's recorded parameters cannot be read");
            "its recorded parameters cannot be read (the log says why)".to_string()
        })?;
        let started = started_steps::<S>(&op.steps_started)?;
        // Only the steps this instance has, in its order.
        let started: Vec<S::Step> = saga
            .steps()
            .into_iter()
            .filter(|step| started.contains(step))
            .collect();
        match S::ON_FAILURE {
            // Every step ran and only the closing bookkeeping was lost: it is done, not undone.
            OnFailure::Unwind
                if op.state == OperationState::Running && saga.completed(&self.cx).await =>
            {
                self.set_state(op.id, OperationState::Done, None)
                    .await
                    .map_err(|e| {
                        tracing::warn!(op = %op.id, error = %chain(&e), "could not record a recovered operation");
                        e.describe().message
                    })?;
                Ok("finished (it had completed)".into())
            }
            OnFailure::Unwind => {
                if self.unwind(op.id, &saga, &started, None).await {
                    Ok("undone".into())
                } else {
                    Err("still unwinding: an undo failed (see the log)".into())
                }
            }
            OnFailure::Continue => {
                // Redo the last started step (it may not have completed), then the rest.
                let from = started.len().saturating_sub(1);
                match self.drive(op.id, &saga, from).await {
                    Ok(leftovers) if leftovers.is_empty() => Ok("finished".into()),
                    Ok(leftovers) => Ok(format!("finished, leaving: {}", leftovers.join(" "))),
                    Err(failure) => {
                        tracing::warn!(op = %op.id, error = %chain(&failure), "recovery of an operation failed");
                        Err(format!(
                            "{}: {}",
                            failure.step,
                            failure.cause.describe().message
                        ))
                    }
                }
            }
        }
    }
}

/// The recorded step names as steps of `S`. A name `S` does not have is refused, never
/// skipped: recovery must not take a step that ran for one that did not (see
/// `registry::PERSISTED_STEPS`).
fn started_steps<S: Saga>(names: &[String]) -> Result<Vec<S::Step>, String> {
    names
        .iter()
        .map(|name| {
            S::Step::ALL
                .iter()
                .copied()
                .find(|step| step.name() == name)
                .ok_or_else(|| {
                    format!("it recorded a step {name:?} that this version of Limen does not know")
                })
        })
        .collect()
}
