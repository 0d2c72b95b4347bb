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

#[utoipa::path(
    get,
    path = "/api/v1/quota",
    operation_id = "getMyQuota",
    tag = "users",
    summary = "The caller's quota and what their VMs use of it",
    description = "The caller's limits (VMs, vCPUs, memory, disk; `null`: no limit) and what \
        their VMs hold now. A create, a disk resize or a snapshot that would go past a limit is \
        refused with 403 `QUOTA_EXCEEDED`. Any logged-in user, for themselves.",
    responses(
        (status = 200, description = "Limits and usage.", body = QuotaReport),
    ),
    extensions(("x-error-codes" = json!([]))),
)]
pub async fn quota(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<QuotaReport>> {
    Ok(Json(accounts.quota(&caller).await?))
}

#[utoipa::path(
    get,
    path = "/api/v1/users",
    operation_id = "listUsers",
    tag = "users",
    summary = "Every user, with their quota and usage",
    description = "Admins only (403 `FORBIDDEN` for anyone else).",
    responses(
        (status = 200, description = "The users.", body = Vec<UserDetail>),
    ),
    extensions(("x-error-codes" = json!(["FORBIDDEN"]))),
)]
pub async fn list_users(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<UserDetail>>> {
    Ok(Json(accounts.list_users(&caller).await?))
}

#[utoipa::path(
    post,
    path = "/api/v1/users",
    operation_id = "createUser",
    tag = "users",
    summary = "Create a user",
    description = "A user or an admin, with a password and optional limits (`quota`; a missing \
        limit is no limit). The username follows the naming rule and the password the password \
        rule (400 `VALIDATION_FAILED`); a name in use is 409 `USER_ALREADY_EXISTS`. Admins only \
        (403 `FORBIDDEN` for anyone else).",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The new user.", body = UserDetail),
    ),
    extensions(("x-error-codes" = json!(["FORBIDDEN", "USER_ALREADY_EXISTS"]))),
)]
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

#[utoipa::path(
    patch,
    path = "/api/v1/users/{username}",
    operation_id = "updateUser",
    tag = "users",
    summary = "Change a user's password, role, disabled flag or quota",
    description = "Only the fields present change. A new password, a new role or disabling the \
        account ends the user's sessions and closes their open connections (API tokens stay, and \
        stop working while the account is disabled). An admin cannot disable themselves or take \
        away their own admin role, and the last admin who can log in cannot be disabled or \
        demoted (409 `INVALID_STATE`). An unknown user is 404 `NOT_FOUND`. Admins only (403 \
        `FORBIDDEN` for anyone else).",
    params(("username" = String, Path, description = "The user's name.")),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The user as it is now.", body = UserDetail),
    ),
    extensions(("x-error-codes" = json!(["FORBIDDEN", "NOT_FOUND", "INVALID_STATE"]))),
)]
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

#[utoipa::path(
    delete,
    path = "/api/v1/users/{username}",
    operation_id = "deleteUser",
    tag = "users",
    summary = "Delete a user",
    description = "Deletes the account with its sessions and tokens. Refused with 409 \
        `INVALID_STATE` while the user owns VMs (delete them first, or disable the account \
        instead), for the caller themselves, and for the last admin who can log in. An unknown \
        user is 404 `NOT_FOUND`. Admins only (403 `FORBIDDEN` for anyone else).",
    params(("username" = String, Path, description = "The user's name.")),
    responses(
        (status = 204, description = "Deleted."),
    ),
    extensions(("x-error-codes" = json!(["FORBIDDEN", "NOT_FOUND", "INVALID_STATE"]))),
)]
pub async fn delete_user(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
    Path(username): Path<String>,
) -> ApiResult<StatusCode> {
    accounts.delete_user(&caller, username).await?;
    Ok(StatusCode::NO_CONTENT)
}
