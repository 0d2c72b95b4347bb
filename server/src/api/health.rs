use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use futures::future::join_all;
use serde_json::{json, Value};

use crate::error::chain;
use crate::state::AppState;

/// Alive: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready: the database and libvirt both answer; otherwise 503 naming which did not, in words
/// (anyone may ask, so the details — addresses, daemon messages — go to the log only).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let hosts = join_all(state.hosts.iter().map(|host| async move {
        host.ping().await.map_err(|error| {
            tracing::warn!(host = %host.key(), error = %chain(&error), "readiness: libvirt does not answer");
        })
    }));
    let (db, hosts) = tokio::join!(state.db.ping(), hosts);
    let db = db.map_err(|error| {
        tracing::warn!(error = %chain(&error), "readiness: the database does not answer");
    });
    let libvirt_ok = hosts.iter().all(Result::is_ok);
    let code = match (&db, libvirt_ok) {
        (Ok(()), true) => None,
        (Err(()), _) => Some("DATABASE_UNAVAILABLE"),
        (_, false) => Some("HYPERVISOR_UNAVAILABLE"),
    };
    let mut body = json!({
        "database": if db.is_ok() { "ok" } else { "unreachable" },
        "libvirt": if libvirt_ok { "ok" } else { "unreachable" },
    });
    match code {
        None => (StatusCode::OK, Json(body)),
        Some(code) => {
            body["code"] = json!(code);
            body["error"] = json!("Limen is not ready: see which dependency does not answer.");
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}
