//! Logging in (rate-limited per user and per address, audited) and the first-admin setup.

use std::net::IpAddr;

use app::auth::{LoginRequest, LoginResponse, SetupRequest};
use app::error::{AppError, ErrorCode};
use app::validate::{validate_label, NAME_MAX_LEN};

use super::limiter::Refused;
use super::users::insert_error;
use super::{password, AccountService};
use crate::audit::Entry;
use crate::db::users as q;
use crate::error::report;

/// The limiter's key for attempts whose username cannot exist (too long): they share one.
const IMPOSSIBLE_USER: &str = "\0too long";

fn rate_limited(refused: Refused) -> AppError {
    AppError::new(
        ErrorCode::RateLimited,
        format!(
            "Too many failed logins; try again in {} minutes.",
            refused.wait.as_secs().div_ceil(60).max(1)
        ),
    )
    // Rounded up: a client that waits this long is let in.
    .with_retry_after(
        u64::try_from(refused.wait.as_millis().div_ceil(1000))
            .unwrap_or(u64::MAX)
            .max(1),
    )
}

fn wrong_credentials() -> AppError {
    AppError::new(ErrorCode::Unauthorized, "Wrong username or password.")
}

impl AccountService {
    /// A login attempt and whether it is worth an audit entry (repeated refusals of a blocked
    /// user or address are not: they would let anyone fill the log).
    pub(super) async fn login_now(
        &self,
        request: &LoginRequest,
        address: Option<IpAddr>,
    ) -> (Result<LoginResponse, AppError>, bool) {
        let possible =
            request.username.len() <= NAME_MAX_LEN && request.password.len() <= password::MAX_LEN;
        let key = if possible {
            request.username.as_str()
        } else {
            IMPOSSIBLE_USER
        };
        if let Err(refused) = self.limiter.begin(key, address) {
            return (Err(rate_limited(refused)), refused.first);
        }
        if !possible {
            return (Err(wrong_credentials()), true);
        }
        let username = request.username.clone();
        let user = match self
            .db
            .run(move |conn| q::user_fetch(conn, &username))
            .await
        {
            Ok(user) => user,
            Err(error) => return (Err(report(error)), true),
        };
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        if !password::verify(request.password.clone(), stored).await {
            return (Err(wrong_credentials()), true);
        }
        let user = user.expect("a verified password has a user");
        self.limiter.succeeded(&user.username, address);
        if user.disabled {
            return (Err(AppError::forbidden("This account is disabled.")), true);
        }
        (self.open_session(&user).await, true)
    }

    /// The first admin, with the one-time setup token. `None` when there is nothing to audit
    /// (setup is over, or this address keeps trying).
    pub(super) async fn setup_now(
        &self,
        request: &SetupRequest,
        address: Option<IpAddr>,
    ) -> (Result<LoginResponse, AppError>, bool) {
        if !self.setup.is_open() {
            return (
                Err(AppError::forbidden(
                    "Setup is done: an admin exists. Log in, or ask an admin for an account.",
                )),
                false,
            );
        }
        if let Err(refused) = self.limiter.begin_setup(address) {
            return (Err(rate_limited(refused)), refused.first);
        }
        if !self.setup.matches(&request.setup_token) {
            return (
                Err(AppError::forbidden(
                    "That is not the setup token (the server prints it in its log at start).",
                )),
                true,
            );
        }
        let result = async {
            validate_label("A username", &request.username)?;
            password::validate(&request.password)?;
            let hash = password::hash(request.password.clone()).await?;
            let username = request.username.clone();
            let created = self
                .db
                .run(move |conn| q::first_admin_insert(conn, &username, &hash))
                .await
                .map_err(|error| insert_error(&request.username, error))?;
            let Some(user) = created else {
                return Err(AppError::forbidden(
                    "An admin exists already: log in, or ask an admin for an account.",
                ));
            };
            self.setup.consume();
            tracing::info!(username = %user.username, "first admin created; the setup token is used up");
            self.open_session(&user).await
        }
        .await;
        (result, true)
    }

    /// The audit entry of a login or setup attempt.
    pub(super) fn attempt_entry(
        action: &'static str,
        username: &str,
        address: Option<IpAddr>,
        result: &Result<LoginResponse, AppError>,
    ) -> Entry {
        let mut entry = Entry::anonymous(address, action).target(username);
        if let Ok(session) = result {
            entry = entry.user(&session.user.username);
        }
        entry.outcome(result)
    }
}
