use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use crate::error::chain;
use crate::state::AppState;

/// Alive: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready: the database and libvirt both answer; otherwise 503 naming which did not.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (db, host) = tokio::join!(state.db.ping(), state.host.ping());
    let describe = |result: Result<(), String>| match result {
        Ok(()) => "ok".to_string(),
        Err(e) => e,
    };
    let db = db.map_err(|e| chain(&e));
    let host = host.map_err(|e| chain(&e));
    let code = match (&db, &host) {
        (Ok(()), Ok(())) => None,
        (Err(_), _) => Some("DATABASE_UNAVAILABLE"),
        (_, Err(_)) => Some("HYPERVISOR_UNAVAILABLE"),
    };
    let mut body = json!({ "database": describe(db), "libvirt": describe(host) });
    match code {
        None => (StatusCode::OK, Json(body)),
        Some(code) => {
            body["code"] = json!(code);
            body["error"] = json!("Limen is not ready: see which dependency failed.");
            (StatusCode::SERVICE_UNAVAILABLE, Json(body))
        }
    }
}
