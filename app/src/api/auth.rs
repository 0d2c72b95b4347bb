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
