//! The periodic reconciler: once at start, then every period (the period is the retry). A run
//! that changed something (corrected a status, finished or undid an operation) is audited, by
//! Limen itself.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::audit::{AuditLog, Entry};
use crate::error::chain;
use crate::ops::Sagas;
use crate::reconcile::{reconcile, Mode};

/// Reconciles once at start and then every `period_secs` (0: only at start).
pub async fn run(sagas: Sagas, period_secs: u64, shutdown: CancellationToken) {
    let audit = AuditLog::new(sagas.context().db.clone());
    loop {
        match reconcile(&sagas, Mode::Repair).await {
            Ok(report) if !report.drift.is_empty() || !report.operations.is_empty() => {
                let entry = Entry::anonymous(None, "reconcile.run")
                    .detail(format!("periodic, by Limen: {}", report.summary()));
                audit.record(entry).await;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %chain(&error), "reconcile failed; the next run tries again")
            }
        }
        if period_secs == 0 {
            return;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(period_secs)) => {}
        }
    }
}
