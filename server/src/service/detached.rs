//! Where a verb runs: in a task of its own holding its locks (the VM's, a quota's), with its
//! audit entry written there when it ends. Once started, an operation is neither cut off nor
//! left unaudited when the client that asked for it goes away (its dropped request would
//! otherwise stop it between two steps), and a shutdown waits for it. Its error becomes the
//! wire error here, once (logged once, with its cause chain), and it is counted (by its audit
//! action and outcome) in the operation metrics.

use std::future::Future;

use app::error::{AppError, ErrorCode};

use super::{ServiceError, VmService};
use crate::audit::Entry;
use crate::error::report;

impl VmService {
    pub(super) async fn detached<T, G, F, E>(
        &self,
        guards: G,
        audit_entry: E,
        work: F,
    ) -> Result<T, AppError>
    where
        T: Send + 'static,
        G: Send + 'static,
        F: Future<Output = Result<T, ServiceError>> + Send + 'static,
        E: FnOnce(&Result<T, AppError>) -> Entry + Send + 'static,
    {
        let log = self.audit.clone();
        self.cx
            .tasks
            .spawn(async move {
                let _guards = guards;
                let started = std::time::Instant::now();
                let result = work.await.map_err(report);
                let entry = audit_entry(&result);
                let outcome = if result.is_ok() {
                    "succeeded"
                } else {
                    "failed"
                };
                crate::metrics::operation_finished(entry.action(), outcome, started.elapsed());
                log.record(entry).await;
                result
            })
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "an operation task failed");
                AppError::new(ErrorCode::Internal, "The operation was interrupted.")
            })?
    }
}
