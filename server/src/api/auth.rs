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
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    operation_id = "login",
    tag = "auth",
    summary = "Log in with a username and password",
    description = "Opens a session. The answer carries the session's secret as `token` (send it \
        as `Authorization: Bearer <token>`, or keep the cookie) and when it expires; the same \
        session is set as the `limen_session` cookie (HttpOnly, SameSite=Strict), and the user's \
        stored dashboard language, if any, as the `limen_language` cookie. A session left unused \
        for its lifetime ends; one used past half of it is renewed. For scripts, an API token \
        (`POST /api/v1/tokens`) is usually the better credential.\n\n\
        Failed attempts are limited per username and per client address: past the limit the \
        answer is 429 `RATE_LIMITED` with `Retry-After`. A wrong username or password is 401 \
        `UNAUTHORIZED` (the same for both); a disabled account is 403 `FORBIDDEN`. No login \
        needed.",
    request_body = LoginRequest,
    security(()),
    responses(
        (status = 200, description = "Logged in: the session's token, its expiry and the user.",
            body = LoginResponse,
            headers(
                ("Set-Cookie" = String, description = "`limen_session=<token>; Path=/; HttpOnly; \
                    SameSite=Strict; Max-Age=…` and, when the user chose a dashboard language, a \
                    second `limen_language=<code>; …` cookie."),
            )),
    ),
    extensions(("x-error-codes" = json!(["UNAUTHORIZED", "FORBIDDEN", "RATE_LIMITED"]))),
)]
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

#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    operation_id = "logout",
    tag = "auth",
    summary = "End the caller's session",
    description = "Ends the session that made the request (its cookie is cleared, and event \
        streams and consoles opened with it close). Called with an API token it changes nothing: \
        a token is revoked with `DELETE /api/v1/tokens/{id}`, not logged out of. Any logged-in \
        user. No request body.",
    responses(
        (status = 204, description = "Logged out.",
            headers(
                ("Set-Cookie" = String, description = "`limen_session=; Path=/; HttpOnly; \
                    SameSite=Strict; Max-Age=0`: the session cookie, cleared."),
            )),
    ),
    extensions(("x-error-codes" = json!([]))),
)]
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

#[utoipa::path(
    get,
    path = "/api/v1/me",
    operation_id = "getMe",
    tag = "auth",
    summary = "The logged-in user",
    description = "Who the credential of the request belongs to: username, role, whether the \
        account is disabled, when it was made and its dashboard language. Any logged-in user.",
    responses(
        (status = 200, description = "The caller's account.", body = User),
    ),
    extensions(("x-error-codes" = json!([]))),
)]
pub async fn me(
    State(accounts): State<Arc<AccountService>>,
    Caller(caller): Caller,
) -> ApiResult<Json<User>> {
    Ok(Json(accounts.me(&caller).await?))
}

/// Stores the caller's dashboard language (`{"language": "ko"}`; `null` forgets it) and sets
/// the language cookie to match.
#[utoipa::path(
    put,
    path = "/api/v1/me/language",
    operation_id = "setMyLanguage",
    tag = "auth",
    summary = "Choose the caller's dashboard language",
    description = "Stores the language the dashboard speaks to the caller (`{\"language\": \
        \"ko\"}`; `{\"language\": null}` forgets the choice, and the browser's preference \
        decides again). The field must be present. A code the dashboard does not speak is 400 \
        `VALIDATION_FAILED`, naming the codes it does. Sets the `limen_language` cookie to \
        match. Any logged-in user, for themselves.",
    request_body = SetLanguageRequest,
    responses(
        (status = 200, description = "The caller's account with its new language.", body = User,
            headers(
                ("Set-Cookie" = String, description = "`limen_language=<code>; Path=/; HttpOnly; \
                    SameSite=Lax; Max-Age=31536000`, or the cookie cleared (`Max-Age=0`) when \
                    the choice was forgotten."),
            )),
    ),
    extensions(("x-error-codes" = json!([]))),
)]
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
#[utoipa::path(
    post,
    path = "/api/v1/auth/setup",
    operation_id = "setupFirstAdmin",
    tag = "auth",
    summary = "Create the first admin of a fresh install",
    description = "Only while no admin exists: the server prints a one-time setup token in its \
        log at start, and this creates the first admin with it and logs them in (the answer and \
        cookies are those of a login). Once an admin exists, or with a wrong token, the answer \
        is 403 `FORBIDDEN`; repeated attempts from one address are limited (429 `RATE_LIMITED` \
        with `Retry-After`). No login needed.",
    request_body = SetupRequest,
    security(()),
    responses(
        (status = 201, description = "The first admin, logged in.", body = LoginResponse,
            headers(
                ("Set-Cookie" = String, description = "`limen_session=<token>; Path=/; HttpOnly; \
                    SameSite=Strict; Max-Age=…`: the new admin's session."),
            )),
    ),
    extensions(("x-error-codes" = json!(["FORBIDDEN", "RATE_LIMITED", "USER_ALREADY_EXISTS"]))),
)]
pub async fn setup(
    State(accounts): State<Arc<AccountService>>,
    Extension(ClientAddress(address)): Extension<ClientAddress>,
    ApiJson(request): ApiJson<SetupRequest>,
) -> ApiResult<impl IntoResponse> {
    let session = accounts.setup_admin(request, address).await?;
    Ok((StatusCode::CREATED, with_cookie(&accounts, session)))
}
