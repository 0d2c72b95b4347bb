//! Users (admin-only: the service refuses anyone else with 403) and the caller's quota.

use std::sync::Arc;

use app::auth::{CreateUserRequest, QuotaReport, UpdateUserRequest, UserDetail};
use app::ports::AccountPort;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::json::ApiJson;
use crate::auth::extract::Caller;
use crate::auth::AccountService;
use crate::error::ApiResult;

pub async fn quota(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<QuotaReport>> {
    Ok(Json(accounts.quota(&caller).await?))
}

pub async fn list_users(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<UserDetail>>> {
    Ok(Json(accounts.list_users(&caller).await?))
}

pub async fn create_user(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<UserDetail>)> {
    Ok((
        StatusCode::CREATED,
        Json(accounts.create_user(&caller, request).await?),
    ))
}

pub async fn update_user(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
    Path(username): Path<String>,
    ApiJson(request): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<UserDetail>> {
    Ok(Json(
        accounts.update_user(&caller, username, request).await?,
    ))
}

pub async fn delete_user(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    accounts.delete_user(&caller, username).await?;
    Ok(StatusCode::NO_CONTENT)
}
