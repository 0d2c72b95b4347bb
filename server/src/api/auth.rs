//! Logging in and out, the current user, and the first admin of a fresh install.

use std::sync::Arc;

use app::auth::{LoginRequest, LoginResponse, SetLanguageRequest, SetupRequest, User};
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

/// The session cookie, and the user's language choice (if they made one) for this browser.
fn with_cookie(accounts: &AccountService, session: LoginResponse) -> impl IntoResponse {
    let cookie = accounts.session_cookie(&session);
    let language = session
        .user
        .language
        .as_deref()
        .map(|code| (header::SET_COOKIE, accounts.language_cookie(Some(code))));
    (
        AppendHeaders([(header::SET_COOKIE, cookie)]),
        AppendHeaders(language),
        Json(session),
    )
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

/// Stores the caller's dashboard language (`{"language": "ko"}`; `null` forgets it) and sets
/// the language cookie to match.
pub async fn set_language(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
    ApiJson(request): ApiJson<SetLanguageRequest>,
) -> ApiResult<impl IntoResponse> {
    let user = accounts.set_language(&caller, request.language).await?;
    let cookie = accounts.language_cookie(user.language.as_deref());
    Ok((AppendHeaders([(header::SET_COOKIE, cookie)]), Json(user)))
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
