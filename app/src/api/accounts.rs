//! API tokens, quotas, users (admin) and the audit log.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use uuid::Uuid;

use crate::auth::{
    ApiToken, AuditPage, AuditQuery, CreateTokenRequest, CreateUserRequest, NewApiToken,
    QuotaReport, UpdateUserRequest, UserDetail,
};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ports::{account_port, caller, with_status};

#[server(prefix = "/rpc", endpoint = "list_tokens", input = Json)]
pub async fn list_tokens() -> Result<Vec<ApiToken>, AppError> {
    with_status(async { account_port()?.list_tokens(&caller()?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "create_token", input = Json)]
pub async fn create_token(request: CreateTokenRequest) -> Result<NewApiToken, AppError> {
    with_status(async { account_port()?.create_token(&caller()?, request).await }.await)
}

#[server(prefix = "/rpc", endpoint = "revoke_token", input = Json)]
pub async fn revoke_token(id: Uuid) -> Result<(), AppError> {
    with_status(async { account_port()?.revoke_token(&caller()?, id).await }.await)
}

#[server(prefix = "/rpc", endpoint = "quota", input = Json)]
pub async fn quota() -> Result<QuotaReport, AppError> {
    with_status(async { account_port()?.quota(&caller()?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "list_users", input = Json)]
pub async fn list_users() -> Result<Vec<UserDetail>, AppError> {
    with_status(async { account_port()?.list_users(&caller()?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "create_user", input = Json)]
pub async fn create_user(request: CreateUserRequest) -> Result<UserDetail, AppError> {
    with_status(async { account_port()?.create_user(&caller()?, request).await }.await)
}

#[server(prefix = "/rpc", endpoint = "update_user", input = Json)]
pub async fn update_user(
    username: String,
    request: UpdateUserRequest,
) -> Result<UserDetail, AppError> {
    with_status(
        async {
            account_port()?
                .update_user(&caller()?, username, request)
                .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_user", input = Json)]
pub async fn delete_user(username: String) -> Result<(), AppError> {
    with_status(async { account_port()?.delete_user(&caller()?, username).await }.await)
}

#[server(prefix = "/rpc", endpoint = "audit", input = Json)]
pub async fn audit(query: AuditQuery) -> Result<AuditPage, AppError> {
    with_status(async { account_port()?.audit(&caller()?, query).await }.await)
}
