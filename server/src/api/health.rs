use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::doctor::{self, Check, Status};
use crate::state::AppState;

/// Alive: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready: `limen doctor`'s checks that make sense inside a running server (the database, libvirt,
/// the data dir and its free space), each said in words; 503 when one failed. Anyone may ask, so
/// only the summaries are sent — paths, addresses and daemon messages go to the log and to
/// `limen doctor`.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let report = doctor::readiness(&state.db, &state.hosts, &state.readiness).await;
    let failed = |name: &str| {
        report
            .checks
            .iter()
            .any(|check| check.name == name && check.status == Status::Failed)
    };
    let code = if failed("database") {
        Some("DATABASE_UNAVAILABLE")
    } else if failed("libvirt") {
        Some("HYPERVISOR_UNAVAILABLE")
    } else if !report.ok {
        Some("HOST_NOT_READY")
    } else {
        None
    };
    let checks: Vec<Value> = report
        .checks
        .iter()
        .map(
            |Check {
                 name,
                 status,
                 summary,
                 ..
             }| json!({"name": name, "status": status, "summary": summary}),
        )
        .collect();
    let mut body = json!({
        "database": if failed("database") { "unreachable" } else { "ok" },
        "libvirt": if failed("libvirt") { "unreachable" } else { "ok" },
        "checks": checks,
    });
    match code {
        None => (StatusCode::OK, Json(body)),
        Some(code) => {
            let reasons: Vec<&str> = report
                .checks
                .iter()
                .filter(|check| check.status == Status::Failed)
                .map(|check| check.summary.as_str())
                .collect();
            body["code"] = json!(code);
            body["error"] = json!(format!("Limen is not ready: {}.", reasons.join("; ")));
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}
