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
