//! `GET /api/v1/audit?before=ID&limit=N`: newest first; admins read everyone's entries.

use std::sync::Arc;

use app::auth::{AuditPage, AuditQuery};
use app::error::AppError;
use app::ports::AccountPort;
use axum::extract::{Query, State};
use axum::Json;

use crate::auth::extract::Caller;
use crate::auth::AccountService;
use crate::error::ApiResult;

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    operation_id = "listAuditEntries",
    tag = "audit",
    summary = "The audit log, newest first",
    description = "Who did what, when, from where, and how it ended. An admin reads everyone's \
        entries, a user their own. Pages of `limit` entries (default 50, at most 200); pass the \
        answer's `next_before` as `before` for the next, older page (`null` on the last page). \
        Any logged-in user.",
    params(
        ("before" = Option<i64>, Query, description = "Only entries older than this entry id \
            (`next_before` of the previous page)."),
        ("limit" = Option<u32>, Query, description = "How many entries, 1–200 (default 50; \
            out-of-range values are clamped)."),
    ),
    responses(
        (status = 200, description = "A page of entries.", body = AuditPage),
    ),
    extensions(("x-error-codes" = json!([]))),
)]
pub async fn audit(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
    query: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<AuditPage>> {
    let Query(query) = query.map_err(|rejection| {
        AppError::validation(format!(
            "The query is not valid: {}.",
            rejection.body_text()
        ))
    })?;
    Ok(Json(accounts.audit(&caller, query).await?))
}
