//! Accounts (SPEC §9): users with argon2id passwords, server-side sessions behind an HttpOnly
//! SameSite cookie, API tokens for scripts, quotas, and the first admin of a fresh install.
//! Only hashes of sessions and tokens are stored. The HTTP side (who a request is from, the
//! cross-site check) is in `middleware`.

mod cache;
pub mod extract;
pub mod limiter;
pub mod middleware;
pub mod password;
pub mod secret;
mod setup;

use std::net::IpAddr;

use app::auth::{
    ApiToken, AuditPage, AuditQuery, CreateTokenRequest, CreateUserRequest, LoginRequest,
    LoginResponse, NewApiToken, Principal, Quota, QuotaReport, Role, SetupRequest,
    UpdateUserRequest, Usage, User, UserDetail,
};
use app::error::{AppError, ErrorCode};
use app::ports::AccountPort;
use app::validate::validate_label;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::audit::{self, AuditLog, Entry};
use crate::db::users::{self as q, Credential, QuotaRow, TokenRow, UserRow};
use crate::db::Db;
use crate::error::db_error;
use cache::{CachedCredential, CredentialCache};
use limiter::LoginLimiter;
use secret::{hash_secret, TOKEN_PREFIX};
pub use setup::SetupToken;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "limen_session";
/// A token's "last used" is written at most this often (not on every request).
const TOUCH_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);
/// Audit pages hold at most this many entries.
const AUDIT_PAGE_MAX: u32 = 200;

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

pub struct AccountService {
    db: Db,
    audit: AuditLog,
    limiter: LoginLimiter,
    settings: SessionSettings,
    setup: SetupToken,
    cache: CredentialCache,
}

fn role_of(row: &UserRow) -> Role {
    row.role.parse().unwrap_or(Role::User)
}

fn to_user(row: &UserRow) -> User {
    User {
        username: row.username.clone(),
        role: role_of(row),
        disabled: row.disabled,
        created_at: row.created_at,
    }
}

fn to_token(row: TokenRow) -> ApiToken {
    ApiToken {
        id: row.id,
        name: row.name,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
    }
}

fn limit_u32(value: Option<i32>) -> Option<u32> {
    value.map(|v| u32::try_from(v).unwrap_or(0))
}

fn limit_u64(value: Option<i64>) -> Option<u64> {
    value.map(|v| u64::try_from(v).unwrap_or(0))
}

/// A quota as stored; limits beyond what the columns hold are refused.
fn to_quota_row(quota: &Quota) -> Result<QuotaRow, AppError> {
    let too_big = |what: &str| AppError::validation(format!("The {what} limit is too large."));
    Ok(QuotaRow {
        max_vms: quota
            .max_vms
            .map(|v| i32::try_from(v).map_err(|_| too_big("VM")))
            .transpose()?,
        max_vcpus: quota
            .max_vcpus
            .map(|v| i32::try_from(v).map_err(|_| too_big("vCPU")))
            .transpose()?,
        max_memory_mib: quota
            .max_memory_mib
            .map(|v| i64::try_from(v).map_err(|_| too_big("memory")))
            .transpose()?,
        max_disk_gb: quota
            .max_disk_gb
            .map(|v| i64::try_from(v).map_err(|_| too_big("disk")))
            .transpose()?,
    })
}

/// A user's limits and what their VMs hold now.
pub async fn quota_report(db: &Db, username: &str) -> Result<QuotaReport, AppError> {
    let username = username.to_string();
    let (limits, used) = db
        .run(move |conn| {
            Ok((
                q::quota_fetch(conn, &username)?,
                q::usage_of(conn, &username)?,
            ))
        })
        .await
        .map_err(db_error)?;
    Ok(QuotaReport {
        limits: Quota {
            max_vms: limit_u32(limits.max_vms),
            max_vcpus: limit_u32(limits.max_vcpus),
            max_memory_mib: limit_u64(limits.max_memory_mib),
            max_disk_gb: limit_u64(limits.max_disk_gb),
        },
        used: Usage {
            vms: u32::try_from(used.vms).unwrap_or(u32::MAX),
            vcpus: u32::try_from(used.vcpus).unwrap_or(u32::MAX),
            memory_mib: u64::try_from(used.memory_mib).unwrap_or(0),
            disk_gb: u64::try_from(used.disk_gb).unwrap_or(0),
        },
    })
}

fn require_admin(caller: &Principal) -> Result<(), AppError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(AppError::admin_only())
    }
}

fn no_such_user(username: &str) -> AppError {
    AppError::new(
        ErrorCode::NotFound,
        format!("There is no user named \"{username}\"."),
    )
}

impl AccountService {
    pub fn new(db: Db, audit: AuditLog, settings: SessionSettings) -> Self {
        Self {
            db,
            audit,
            limiter: LoginLimiter::default(),
            settings,
            setup: SetupToken::default(),
            cache: CredentialCache::default(),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// While no admin exists: a fresh one-time setup token, to be shown in the log.
    pub async fn issue_setup_token(&self) -> Result<Option<String>, AppError> {
        if self.setup_needed().await? {
            Ok(Some(self.setup.issue()))
        } else {
            Ok(None)
        }
    }

    /// The user behind a bearer secret or session cookie, if it is valid now.
    pub async fn resolve(
        &self,
        secret: &str,
        address: Option<IpAddr>,
    ) -> Result<Option<Resolved>, AppError> {
        let hash = hash_secret(secret);
        let credential = match self.cache.get(&hash) {
            Some(cached) => cached,
            None => match self.lookup(secret, &hash).await? {
                Some(found) => {
                    self.cache.put(hash.clone(), found.clone());
                    found
                }
                None => return Ok(None),
            },
        };
        let renewed_cookie = match credential.expires_at {
            Some(expires_at) if credential.is_session => {
                self.renew_if_due(secret, &hash, expires_at, &credential)
                    .await?
            }
            _ => None,
        };
        Ok(Some(Resolved {
            principal: Principal {
                username: credential.username,
                role: credential.role,
                session: credential.is_session.then_some(hash),
                address,
            },
            renewed_cookie,
        }))
    }

    /// Asks the database about a secret (a token's use is noted, at most once a minute).
    async fn lookup(&self, secret: &str, hash: &str) -> Result<Option<CachedCredential>, AppError> {
        let hash = hash.to_string();
        if secret.starts_with(TOKEN_PREFIX) {
            let found = self
                .db
                .run(move |conn| q::token_resolve(conn, &hash))
                .await
                .map_err(db_error)?;
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
            .map_err(db_error)?;
        Ok(found.map(|credential| cached(&credential, true)))
    }

    /// Past half its life a session is renewed to the full lifetime (and its cookie sent again).
    async fn renew_if_due(
        &self,
        secret: &str,
        hash: &str,
        expires_at: DateTime<Utc>,
        credential: &CachedCredential,
    ) -> Result<Option<String>, AppError> {
        let lifetime = self.settings.lifetime;
        let now = Utc::now();
        if expires_at - now >= lifetime / 2 {
            return Ok(None);
        }
        let new_expiry = now + lifetime;
        let renew_hash = hash.to_string();
        self.db
            .run(move |conn| q::session_renew(conn, &renew_hash, new_expiry))
            .await
            .map_err(db_error)?;
        let mut renewed = credential.clone();
        renewed.expires_at = Some(new_expiry);
        self.cache.put(hash.to_string(), renewed);
        Ok(Some(self.cookie(secret, new_expiry)))
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

    /// Opens a session for a user whose password was checked.
    async fn open_session(&self, user: &UserRow) -> Result<LoginResponse, AppError> {
        let secret = secret::new_session_secret();
        let hash = hash_secret(&secret);
        let expires_at = Utc::now() + self.settings.lifetime;
        let username = user.username.clone();
        self.db
            .run(move |conn| q::session_insert(conn, &hash, &username, expires_at))
            .await
            .map_err(db_error)?;
        Ok(LoginResponse {
            token: secret,
            expires_at,
            user: to_user(user),
        })
    }

    async fn check_login(
        &self,
        request: &LoginRequest,
        address: Option<IpAddr>,
    ) -> Result<UserRow, AppError> {
        if let Some(wait) = self.limiter.wait_for(&request.username, address) {
            return Err(AppError::new(
                ErrorCode::RateLimited,
                format!(
                    "Too many failed logins; try again in {} minutes.",
                    wait.as_secs().div_ceil(60)
                ),
            ));
        }
        let username = request.username.clone();
        let user = if request.username.len() <= 63 {
            self.db
                .run(move |conn| q::user_fetch(conn, &username))
                .await
                .map_err(db_error)?
        } else {
            None
        };
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let password_ok = request.password.len() <= password::MAX_LEN
            && password::verify(request.password.clone(), stored).await;
        let Some(user) = user.filter(|_| password_ok) else {
            self.limiter.failed(&request.username, address);
            return Err(AppError::new(
                ErrorCode::Unauthorized,
                "Wrong username or password.",
            ));
        };
        if user.disabled {
            return Err(AppError::forbidden("This account is disabled."));
        }
        self.limiter.succeeded(&user.username);
        Ok(user)
    }

    async fn user_detail(&self, user: &UserRow) -> Result<UserDetail, AppError> {
        Ok(UserDetail {
            user: to_user(user),
            quota: quota_report(&self.db, &user.username).await?,
        })
    }

    async fn create_user_now(&self, request: &CreateUserRequest) -> Result<UserDetail, AppError> {
        create_user_directly(&self.db, request).await
    }

    async fn update_user_now(
        &self,
        caller: &Principal,
        username: &str,
        request: &UpdateUserRequest,
    ) -> Result<UserDetail, AppError> {
        if username == caller.username
            && (request.disabled == Some(true) || request.role == Some(Role::User))
        {
            return Err(AppError::new(
                ErrorCode::InvalidState,
                "You cannot disable yourself or take away your own admin role.",
            ));
        }
        let hash = match &request.password {
            Some(new) => {
                password::validate(new)?;
                Some(password::hash(new.clone()).await?)
            }
            None => None,
        };
        let quota = request.quota.as_ref().map(to_quota_row).transpose()?;
        let (name, role, disabled) = (
            username.to_string(),
            request.role.map(Role::as_str),
            request.disabled,
        );
        let user = self
            .db
            .run(move |conn| q::user_update(conn, &name, hash.as_deref(), role, disabled, quota))
            .await
            .map_err(db_error)?
            .ok_or_else(|| no_such_user(username))?;
        self.user_detail(&user).await
    }
}

/// Creates a user (the admin API and `limen user add` both come here; only the API audits).
pub async fn create_user_directly(
    db: &Db,
    request: &CreateUserRequest,
) -> Result<UserDetail, AppError> {
    validate_label("A username", &request.username)?;
    password::validate(&request.password)?;
    let quota = to_quota_row(&request.quota)?;
    let hash = password::hash(request.password.clone()).await?;
    let (username, role) = (request.username.clone(), request.role.as_str());
    let user = db
        .run(move |conn| q::user_insert(conn, &username, &hash, role, quota))
        .await
        .map_err(|error| {
            if error.is_unique_violation(q::USERS_PKEY) {
                AppError::new(
                    ErrorCode::UserAlreadyExists,
                    format!("A user named \"{}\" already exists.", request.username),
                )
            } else {
                db_error(error)
            }
        })?;
    Ok(UserDetail {
        quota: quota_report(db, &user.username).await?,
        user: to_user(&user),
    })
}

fn cached(credential: &Credential, is_session: bool) -> CachedCredential {
    CachedCredential::new(
        credential.user.username.clone(),
        role_of(&credential.user),
        is_session,
        credential.expires_at,
    )
}

/// What a user update changed, for the audit log (never the password itself).
fn describe_update(request: &UpdateUserRequest) -> String {
    let mut changed = Vec::new();
    if request.password.is_some() {
        changed.push("password".to_string());
    }
    if let Some(role) = request.role {
        changed.push(format!("role={}", role.as_str()));
    }
    if let Some(disabled) = request.disabled {
        changed.push(format!("disabled={disabled}"));
    }
    if let Some(quota) = request.quota {
        changed.push(format!(
            "quota={}",
            serde_json::to_string(&quota).unwrap_or_default()
        ));
    }
    changed.join(", ")
}

#[async_trait]
impl AccountPort for AccountService {
    async fn login(
        &self,
        request: LoginRequest,
        address: Option<IpAddr>,
    ) -> Result<LoginResponse, AppError> {
        let result = match self.check_login(&request, address).await {
            Ok(user) => self.open_session(&user).await,
            Err(error) => Err(error),
        };
        let mut entry = Entry::anonymous(address, "auth.login").target(request.username.clone());
        if let Ok(session) = &result {
            entry = entry.user(&session.user.username);
        }
        self.audit.record(entry.outcome(&result)).await;
        result
    }

    fn session_cookie(&self, session: &LoginResponse) -> String {
        self.cookie(&session.token, session.expires_at)
    }

    fn cleared_cookie(&self) -> String {
        format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    }

    async fn logout(&self, caller: &Principal) -> Result<(), AppError> {
        let result = match caller.session.clone() {
            Some(hash) => {
                let deleted = hash.clone();
                let result = self
                    .db
                    .run(move |conn| q::session_delete(conn, &deleted))
                    .await
                    .map_err(db_error);
                self.cache.forget(&hash);
                result
            }
            None => Ok(()),
        };
        self.audit
            .record(Entry::by(caller, "auth.logout").outcome(&result))
            .await;
        result
    }

    async fn me(&self, caller: &Principal) -> Result<User, AppError> {
        let username = caller.username.clone();
        let user = self
            .db
            .run(move |conn| q::user_fetch(conn, &username))
            .await
            .map_err(db_error)?
            .ok_or_else(AppError::unauthorized)?;
        Ok(to_user(&user))
    }

    async fn setup_needed(&self) -> Result<bool, AppError> {
        let exists = self.db.run(q::admin_exists).await.map_err(db_error)?;
        Ok(!exists)
    }

    async fn setup_admin(
        &self,
        request: SetupRequest,
        address: Option<IpAddr>,
    ) -> Result<LoginResponse, AppError> {
        let result = async {
            if !self.setup.matches(&request.setup_token) {
                return Err(AppError::forbidden(
                    "That is not the setup token (it is in the server's log while no admin exists).",
                ));
            }
            validate_label("A username", &request.username)?;
            password::validate(&request.password)?;
            let hash = password::hash(request.password.clone()).await?;
            let username = request.username.clone();
            let created = self
                .db
                .run(move |conn| q::first_admin_insert(conn, &username, &hash))
                .await
                .map_err(db_error)?;
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
        self.audit
            .record(
                Entry::anonymous(address, "auth.setup")
                    .target(request.username.clone())
                    .outcome(&result),
            )
            .await;
        result
    }

    async fn list_tokens(&self, caller: &Principal) -> Result<Vec<ApiToken>, AppError> {
        let username = caller.username.clone();
        let rows = self
            .db
            .run(move |conn| q::token_list(conn, &username))
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(to_token).collect())
    }

    async fn create_token(
        &self,
        caller: &Principal,
        request: CreateTokenRequest,
    ) -> Result<NewApiToken, AppError> {
        let result = async {
            let name = request.name.trim().to_string();
            if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
                return Err(AppError::validation(
                    "A token name has 1 to 64 characters, none of them control characters.",
                ));
            }
            let expires_at = match request.expires_in_days {
                Some(0) | Some(3651..) => {
                    return Err(AppError::validation(
                        "A token expires in 1 to 3650 days (or never: leave it out).",
                    ))
                }
                Some(days) => Some(Utc::now() + chrono::TimeDelta::days(days.into())),
                None => None,
            };
            let secret = secret::new_token_secret();
            let hash = hash_secret(&secret);
            let username = caller.username.clone();
            let row = self
                .db
                .run(move |conn| {
                    q::token_insert(conn, Uuid::new_v4(), &username, &name, &hash, expires_at)
                })
                .await
                .map_err(db_error)?;
            Ok(NewApiToken {
                token: to_token(row),
                secret,
            })
        }
        .await;
        let target = match &result {
            Ok(new) => format!("{} ({})", new.token.name, new.token.id),
            Err(_) => request.name.clone(),
        };
        self.audit
            .record(
                Entry::by(caller, "token.create")
                    .target(target)
                    .outcome(&result),
            )
            .await;
        result
    }

    async fn revoke_token(&self, caller: &Principal, id: Uuid) -> Result<(), AppError> {
        let username = caller.username.clone();
        let result = match self
            .db
            .run(move |conn| q::token_delete(conn, &username, id))
            .await
            .map_err(db_error)
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(AppError::new(
                ErrorCode::NotFound,
                "You have no such token.",
            )),
            Err(error) => Err(error),
        };
        // The token's hash is not at hand here: all of the user's cached credentials go.
        self.cache.forget_user(&caller.username);
        self.audit
            .record(
                Entry::by(caller, "token.revoke")
                    .target(id.to_string())
                    .outcome(&result),
            )
            .await;
        result
    }

    async fn quota(&self, caller: &Principal) -> Result<QuotaReport, AppError> {
        quota_report(&self.db, &caller.username).await
    }

    async fn list_users(&self, caller: &Principal) -> Result<Vec<UserDetail>, AppError> {
        require_admin(caller)?;
        let users = self.db.run(q::user_list).await.map_err(db_error)?;
        let mut details = Vec::with_capacity(users.len());
        for user in &users {
            details.push(self.user_detail(user).await?);
        }
        Ok(details)
    }

    async fn create_user(
        &self,
        caller: &Principal,
        request: CreateUserRequest,
    ) -> Result<UserDetail, AppError> {
        require_admin(caller)?;
        let result = self.create_user_now(&request).await;
        self.audit
            .record(
                Entry::by(caller, "user.create")
                    .target(request.username.clone())
                    .detail(format!("role={}", request.role.as_str()))
                    .outcome(&result),
            )
            .await;
        result
    }

    async fn update_user(
        &self,
        caller: &Principal,
        username: String,
        request: UpdateUserRequest,
    ) -> Result<UserDetail, AppError> {
        require_admin(caller)?;
        let result = self.update_user_now(caller, &username, &request).await;
        self.cache.forget_user(&username);
        self.audit
            .record(
                Entry::by(caller, "user.update")
                    .target(username)
                    .detail(describe_update(&request))
                    .outcome(&result),
            )
            .await;
        result
    }

    async fn delete_user(&self, caller: &Principal, username: String) -> Result<(), AppError> {
        require_admin(caller)?;
        let result = async {
            if username == caller.username {
                return Err(AppError::new(
                    ErrorCode::InvalidState,
                    "You cannot delete yourself.",
                ));
            }
            let name = username.clone();
            let deleted = self.db.run(move |conn| q::user_delete(conn, &name)).await;
            self.cache.forget_user(&username);
            match deleted {
                Ok(true) => Ok(()),
                Ok(false) => Err(no_such_user(&username)),
                Err(error) if error.is_foreign_key_violation(q::VMS_OWNER_FKEY) => {
                    Err(AppError::new(
                        ErrorCode::InvalidState,
                        format!(
                            "\"{username}\" still owns VMs: delete them first, or disable the account instead."
                        ),
                    ))
                }
                Err(error) => Err(db_error(error)),
            }
        }
        .await;
        self.audit
            .record(
                Entry::by(caller, "user.delete")
                    .target(username)
                    .outcome(&result),
            )
            .await;
        result
    }

    async fn audit(&self, caller: &Principal, query: AuditQuery) -> Result<AuditPage, AppError> {
        let limit = query.limit.unwrap_or(50).clamp(1, AUDIT_PAGE_MAX);
        let only = (!caller.is_admin()).then(|| caller.username.clone());
        let before = query.before;
        let rows = self
            .db
            .run(move |conn| {
                crate::db::audit::audit_page(conn, only.as_deref(), before, i64::from(limit) + 1)
            })
            .await
            .map_err(db_error)?;
        let mut entries: Vec<_> = rows.into_iter().map(audit::to_entry).collect();
        let next_before = if entries.len() > limit as usize {
            entries.truncate(limit as usize);
            entries.last().map(|entry| entry.id)
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            next_before,
        })
    }
}
