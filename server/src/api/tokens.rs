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

#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    operation_id = "listTokens",
    tag = "tokens",
    summary = "The caller's API tokens",
    description = "The caller's own tokens, without their secrets (shown only once, when a token \
        is made): name, when it was made, when it expires and when it was last used. Any \
        logged-in user, for themselves (an admin does not see other users' tokens).",
    responses(
        (status = 200, description = "The caller's tokens.", body = Vec<ApiToken>),
    ),
    extensions(("x-error-codes" = json!([]))),
)]
pub async fn list_tokens(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<Vec<ApiToken>>> {
    Ok(Json(accounts.list_tokens(&caller).await?))
}

/// 201 with the secret: the only time it is ever shown.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    operation_id = "createToken",
    tag = "tokens",
    summary = "Make an API token for scripts",
    description = "A token acts as the caller (`Authorization: Bearer <secret>`) until it is \
        revoked or, with `expires_in_days` (1–3650), expires. The answer is the only time the \
        secret is ever shown: keep it. The name has 1 to 64 characters. A user holds at most 100 \
        tokens (409 `INVALID_STATE`: revoke one first). Any logged-in user, for themselves.",
    request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "The token, with its secret.", body = NewApiToken),
    ),
    extensions(("x-error-codes" = json!(["INVALID_STATE"]))),
)]
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

#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    operation_id = "revokeToken",
    tag = "tokens",
    summary = "Revoke one of the caller's API tokens",
    description = "The token stops working at once, and streams and consoles opened with it \
        close. Only the caller's own tokens: any other id is 404 `NOT_FOUND` (for an admin too). \
        Any logged-in user.",
    params(
        ("id" = String, Path, format = Uuid, description = "The token's id."),
    ),
    responses(
        (status = 204, description = "Revoked."),
    ),
    extensions(("x-error-codes" = json!(["NOT_FOUND"]))),
)]
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
