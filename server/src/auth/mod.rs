//! Accounts (SPEC §9): users with argon2id passwords, server-side sessions behind an HttpOnly
//! SameSite cookie, API tokens for scripts, quotas, and the first admin of a fresh install.
//! Only hashes of sessions and tokens are stored.
//!
//! - `mod.rs`: who a secret belongs to (with a short-lived cache), sessions and their cookie;
//! - `login.rs`: logging in (rate-limited) and the first-admin setup;
//! - `users.rs`: users, quotas and tokens as the admin pages and the CLI change them;
//! - `port.rs`: the `AccountPort` the REST API and the server functions call, with the audit;
//! - `middleware.rs`: the HTTP side (credentials → `Principal`, the cross-site check).

mod cache;
pub mod extract;
pub mod limiter;
mod login;
pub mod middleware;
pub mod password;
mod port;
pub mod revocations;
pub mod secret;
mod setup;
mod users;

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use app::auth::{LoginResponse, Principal, User};
use app::error::{AppError, ErrorCode};
use app::language::LANGUAGE_COOKIE;
use chrono::{DateTime, Utc};

use crate::audit::AuditLog;
use crate::db::users::{self as q, Credential, UserRow};
use crate::db::Db;
use crate::error::report;
use cache::{CachedCredential, CredentialCache};
use limiter::LoginLimiter;
use revocations::{Revocation, Revocations};
use secret::{hash_secret, TOKEN_PREFIX};
use setup::SetupToken;
pub use users::{create_user_directly, quota_report};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "limen_session";
/// A language choice is kept for a year (and renewed by every choice and login).
const LANGUAGE_COOKIE_SECONDS: u32 = 365 * 24 * 3600;
/// A token's "last used" is written at most this often (not on every request).
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// A session ends after this long without use; each use past half of it renews it.
    pub lifetime: chrono::TimeDelta,
    /// Mark the cookie `Secure` (Limen served over HTTPS, e.g. behind a proxy).
    pub secure_cookie: bool,
}

/// Who a credential belongs to, and the cookie to send back if the session was renewed.
pub struct Resolved {
    pub principal: Principal,
    pub renewed_cookie: Option<String>,
}

/// Cheap to clone: a change runs in a task of its own holding a clone (see [`to_completion`]).
#[derive(Clone)]
pub struct AccountService {
    db: Db,
    audit_log: AuditLog,
    limiter: Arc<LoginLimiter>,
    settings: SessionSettings,
    setup: Arc<SetupToken>,
    cache: Arc<CredentialCache>,
    revocations: Arc<Revocations>,
}

/// Runs a change to completion in a task of its own: a client that goes away mid-request
/// cannot stop it between its database write, its cache flush, its revocation and its audit
/// entry.
async fn to_completion<T: Send + 'static>(
    work: impl Future<Output = Result<T, AppError>> + Send + 'static,
) -> Result<T, AppError> {
    tokio::spawn(work).await.map_err(|error| {
        tracing::error!(%error, "an account task failed");
        AppError::new(ErrorCode::Internal, "The operation was interrupted.")
    })?
}

fn to_user(row: &UserRow) -> User {
    User {
        username: row.username.clone(),
        role: row.role,
        disabled: row.disabled,
        created_at: row.created_at,
        language: row.language.clone(),
    }
}

fn cached(credential: &Credential, is_session: bool) -> CachedCredential {
    CachedCredential::new(
        credential.user.username.clone(),
        credential.user.role,
        is_session,
        credential.expires_at,
        credential.user.language.clone(),
    )
}

impl AccountService {
    pub fn new(db: Db, audit_log: AuditLog, settings: SessionSettings) -> Self {
        Self {
            db,
            audit_log,
            limiter: Arc::default(),
            settings,
            setup: Arc::default(),
            cache: Arc::default(),
            revocations: Arc::default(),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// While no admin who can log in exists: a fresh one-time setup token, for the log.
    pub async fn issue_setup_token(&self) -> Result<Option<String>, AppError> {
        let exists = self.db.run(q::admin_exists).await.map_err(report)?;
        Ok((!exists).then(|| self.setup.issue()))
    }

    /// The user behind a bearer secret or session cookie, if it is valid now.
    pub async fn resolve(
        &self,
        secret: &str,
        address: Option<IpAddr>,
    ) -> Result<Option<Resolved>, AppError> {
        let hash = hash_secret(secret);
        let mut credential = match self.cache.get(&hash) {
            Some(cached) => cached,
            None => {
                let stamp = self.cache.stamp();
                let Some(found) = self.lookup(secret.starts_with(TOKEN_PREFIX), &hash).await?
                else {
                    return Ok(None);
                };
                self.cache
                    .put_unless_removed_since(stamp, hash.clone(), found.clone());
                found
            }
        };
        let mut renewed_cookie = None;
        if let (true, Some(expires_at)) = (credential.is_session, credential.expires_at) {
            match self.renew_if_due(&hash, expires_at).await? {
                Renewal::NotDue => {}
                Renewal::Renewed(new_expiry) => {
                    credential.expires_at = Some(new_expiry);
                    renewed_cookie = Some(self.cookie(secret, new_expiry));
                }
                Renewal::Gone => return Ok(None),
            }
        }
        Ok(Some(Resolved {
            principal: Principal {
                username: credential.username,
                role: credential.role,
                credential: hash,
                by_session: credential.is_session,
                expires_at: credential.expires_at,
                address,
                language: credential.language,
            },
            renewed_cookie,
        }))
    }

    /// Asks the database about a secret (a token's use is noted, at most once a minute).
    async fn lookup(
        &self,
        is_token: bool,
        hash: &str,
    ) -> Result<Option<CachedCredential>, AppError> {
        let hash = hash.to_string();
        if is_token {
            let found = self
                .db
                .run(move |conn| q::token_resolve(conn, &hash))
                .await
                .map_err(report)?;
            let Some((id, credential)) = found else {
                return Ok(None);
            };
            if credential
                .last_used_at
                .is_none_or(|at| Utc::now() - at > TOUCH_EVERY)
            {
                let _ = self.db.run(move |conn| q::token_touch(conn, id)).await;
            }
            return Ok(Some(cached(&credential, false)));
        }
        let found = self
            .db
            .run(move |conn| q::session_resolve(conn, &hash))
            .await
            .map_err(report)?;
        Ok(found.map(|credential| cached(&credential, true)))
    }

    /// Past half its life a session is renewed to the full lifetime.
    async fn renew_if_due(
        &self,
        hash: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<Renewal, AppError> {
        let lifetime = self.settings.lifetime;
        let now = Utc::now();
        if expires_at - now >= lifetime / 2 {
            return Ok(Renewal::NotDue);
        }
        let new_expiry = now + lifetime;
        let renew_hash = hash.to_string();
        let renewed = self
            .db
            .run(move |conn| q::session_renew(conn, &renew_hash, new_expiry))
            .await
            .map_err(report)?;
        if !renewed {
            self.cache.forget(hash);
            return Ok(Renewal::Gone);
        }
        self.cache.renewed(hash, new_expiry);
        Ok(Renewal::Renewed(new_expiry))
    }

    /// The caller as its credential says now (its role may have changed since the principal
    /// was made, e.g. when a console ticket was issued); 401 if the credential ended.
    pub async fn current(&self, caller: &Principal) -> Result<Principal, AppError> {
        let current = self
            .lookup(!caller.by_session, &caller.credential)
            .await?
            .ok_or_else(AppError::unauthorized)?;
        Ok(Principal {
            username: current.username,
            role: current.role,
            expires_at: current.expires_at,
            ..caller.clone()
        })
    }

    /// For a long-lived connection (an event stream, a console): completes when the caller's
    /// credential ends (logout, revocation, account change) or expires. Checked against the
    /// database once more after listening starts, so an end that came just before is not
    /// missed; at the expiry it is checked again, so a session renewed meanwhile (by the same
    /// user's other requests) keeps the connection open.
    pub async fn until_credential_ends(
        &self,
        caller: &Principal,
    ) -> Result<impl Future<Output = ()> + Send + 'static, AppError> {
        let ended = self.revocations.ended(caller.clone());
        let current = self
            .lookup(!caller.by_session, &caller.credential)
            .await?
            .ok_or_else(AppError::unauthorized)?;
        let (this, caller) = (self.clone(), caller.clone());
        Ok(async move {
            let expiry = async move {
                let mut expires_at = current.expires_at;
                while let Some(at) = expires_at {
                    let left = (at - Utc::now()).to_std().unwrap_or_default();
                    tokio::time::sleep(left).await;
                    // Renewed meanwhile? Then it goes on until the new expiry.
                    expires_at = match this.lookup(!caller.by_session, &caller.credential).await {
                        Ok(Some(renewed)) => renewed.expires_at.filter(|new| *new > at),
                        _ => None,
                    };
                    if expires_at.is_none() {
                        return;
                    }
                }
                std::future::pending::<()>().await;
            };
            tokio::select! {
                () = ended => {}
                () = expiry => {}
            }
        })
    }

    fn cookie(&self, secret: &str, expires_at: DateTime<Utc>) -> String {
        let max_age = (expires_at - Utc::now()).num_seconds().max(0);
        let secure = if self.settings.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
    }

    /// The cookie that carries a language choice to the login page (and to pages rendered
    /// before the choice is stored); `None` clears it. Not secret, but only the server sets it.
    fn language_cookie_value(&self, language: Option<&str>) -> String {
        let secure = if self.settings.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        // Only a code the dashboard speaks reaches the header (a stored one is checked again:
        // the row may be older than the languages, or written by hand).
        match language.and_then(app::language::from_code) {
            Some(locale) => format!(
                "{LANGUAGE_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={LANGUAGE_COOKIE_SECONDS}{secure}",
                app::language::code(locale)
            ),
            None => format!("{LANGUAGE_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
        }
    }

    fn cleared_cookie_value(&self) -> String {
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }

    /// Opens a session for a user whose password was checked (and sweeps expired ones).
    async fn open_session(&self, user: &UserRow) -> Result<LoginResponse, AppError> {
        let secret = secret::new_random_secret();
        let hash = hash_secret(&secret);
        let expires_at = Utc::now() + self.settings.lifetime;
        let username = user.username.clone();
        self.db
            .run(move |conn| {
                q::sessions_sweep(conn)?;
                q::session_insert(conn, &hash, &username, expires_at)
            })
            .await
            .map_err(report)?;
        Ok(LoginResponse {
            token: secret,
            expires_at,
            user: to_user(user),
        })
    }

    /// One session or token ended: no longer served from the cache, open connections close.
    fn credential_ended(&self, hash: &str) {
        self.cache.forget(hash);
        self.revocations
            .announce(Revocation::Credential(hash.to_string()));
    }

    /// A user's account changed: every cached credential of theirs is dropped; with
    /// `end_connections`, their open connections close too.
    fn account_changed(&self, username: &str, end_connections: bool) {
        self.cache.forget_user(username);
        if end_connections {
            self.revocations
                .announce(Revocation::User(username.to_string()));
        }
    }
}

enum Renewal {
    NotDue,
    Renewed(DateTime<Utc>),
    /// The session ended meanwhile.
    Gone,
}
