//! Logging in and out, the current user, and the first admin of a fresh install.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::auth::{LoginRequest, SetupRequest, User};
use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::ports::{account_port, caller, client_address, set_response_header, with_status};

/// Opens a session and sets its cookie (HttpOnly, SameSite=Strict).
#[server(prefix = "/rpc", endpoint = "login", input = Json)]
pub async fn login(request: LoginRequest) -> Result<User, AppError> {
    with_status(
        async {
            let accounts = account_port()?;
            let session = accounts.login(request, client_address()).await?;
            set_response_header(http::header::SET_COOKIE, &accounts.session_cookie(&session));
            // The user's own choice follows them to this browser (and its login page).
            if let Some(language) = &session.user.language {
                set_response_header(
                    http::header::SET_COOKIE,
                    &accounts.language_cookie(Some(language)),
                );
            }
            Ok(session.user)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "logout", input = Json)]
pub async fn logout() -> Result<(), AppError> {
    with_status(
        async {
            let accounts = account_port()?;
            accounts.logout(&caller()?).await?;
            set_response_header(http::header::SET_COOKIE, &accounts.cleared_cookie());
            Ok(())
        }
        .await,
    )
}

/// The logged-in user; `None` for an anonymous visitor (the login and setup pages).
#[server(prefix = "/rpc", endpoint = "me", input = Json)]
pub async fn me() -> Result<Option<User>, AppError> {
    with_status(
        async {
            match caller() {
                Ok(caller) => Ok(Some(account_port()?.me(&caller).await?)),
                Err(_) => Ok(None),
            }
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "setup_needed", input = Json)]
pub async fn setup_needed() -> Result<bool, AppError> {
    with_status(async { account_port()?.setup_needed().await }.await)
}

/// Creates the first admin with the setup token from the server's log, and logs them in.
#[server(prefix = "/rpc", endpoint = "setup_admin", input = Json)]
pub async fn setup_admin(request: SetupRequest) -> Result<User, AppError> {
    with_status(
        async {
            let accounts = account_port()?;
            let session = accounts.setup_admin(request, client_address()).await?;
            set_response_header(http::header::SET_COOKIE, &accounts.session_cookie(&session));
            Ok(session.user)
        }
        .await,
    )
}

/// Chooses the dashboard's language: stored for the logged-in user, and in this browser's
/// cookie (all a visitor on the login page has). The page is then loaded again in it.
#[server(prefix = "/rpc", endpoint = "set_language", input = Json)]
pub async fn set_language(language: String) -> Result<(), AppError> {
    with_status(
        async {
            let accounts = account_port()?;
            let chosen = match caller() {
                Ok(caller) => {
                    accounts
                        .set_language(&caller, Some(language))
                        .await?
                        .language
                }
                Err(_) => Some(
                    crate::language::from_code(&language)
                        .map(crate::language::code)
                        .ok_or_else(|| {
                            AppError::validation("The dashboard does not speak that language.")
                        })?
                        .to_string(),
                ),
            };
            set_response_header(
                http::header::SET_COOKIE,
                &accounts.language_cookie(chosen.as_deref()),
            );
            Ok(())
        }
        .await,
    )
}
