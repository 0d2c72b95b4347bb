//! Logging in and out, the current user, and the first admin of a fresh install.

use std::sync::Arc;

use app::auth::{LoginRequest, LoginResponse, SetupRequest, User};
use app::ports::{AccountPort, ClientAddress};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{AppendHeaders, IntoResponse};
use axum::{Extension, Json};

use super::json::ApiJson;
use crate::auth::extract::Caller;
use crate::auth::AccountService;
use crate::error::ApiResult;

/// `{token, expires_at, user}`, and the same session as an HttpOnly SameSite cookie.
pub async fn login(
    State(accounts): State<Arc<AccountService>>,
    Extension(ClientAddress(address)): Extension<ClientAddress>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let session = accounts.login(request, address).await?;
    Ok(with_cookie(&accounts, session))
}

fn with_cookie(accounts: &AccountService, session: LoginResponse) -> impl IntoResponse {
    let cookie = accounts.session_cookie(&session);
    (AppendHeaders([(header::SET_COOKIE, cookie)]), Json(session))
}

pub async fn logout(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
) -> ApiResult<impl IntoResponse> {
    accounts.logout(&caller).await?;
    Ok((
        StatusCode::NO_CONTENT,
        AppendHeaders([(header::SET_COOKIE, accounts.cleared_cookie())]),
    ))
}

pub async fn me(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<User>> {
    Ok(Json(accounts.me(&caller).await?))
}

/// The first admin, with the one-time setup token from the log; logged in at once.
pub async fn setup(
    State(accounts): State<Arc<AccountService>>,
    Extension(ClientAddress(address)): Extension<ClientAddress>,
    ApiJson(request): ApiJson<SetupRequest>,
) -> ApiResult<impl IntoResponse> {
    let session = accounts.setup_admin(request, address).await?;
    Ok((StatusCode::CREATED, with_cookie(&accounts, session)))
}
