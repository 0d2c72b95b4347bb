//! API tokens for scripts: the caller's own, listed without their secrets.

use std::sync::Arc;

use app::auth::{ApiToken, CreateTokenRequest, NewApiToken};
use app::error::AppError;
use app::ports::AccountPort;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use uuid::Uuid;

use super::json::ApiJson;
use crate::auth::extract::Caller;
use crate::auth::AccountService;
use crate::error::ApiResult;

pub async fn list_tokens(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(accounts.list_tokens(&caller).await?))
}

/// 201 with the secret: the only time it is ever shown.
pub async fn create_token(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<NewApiToken>)> {
    Ok((
        StatusCode::CREATED,
        Json(accounts.create_token(&caller, request).await?),
    ))
}

pub async fn revoke_token(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id: Uuid = id
        .parse()
        .map_err(|_| AppError::validation(format!("{id:?} is not a token id (a UUID).")))?;
    accounts.revoke_token(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
