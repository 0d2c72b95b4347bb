//! Users, quotas and API tokens as the admin pages, the token page and `limen user add` change
//! them. Who may do what is checked in `port.rs`; these are the steps.

use app::auth::{
    ApiToken, CreateTokenRequest, CreateUserRequest, NewApiToken, Principal, Quota, QuotaReport,
    Role, UpdateUserRequest, Usage, User, UserDetail,
};
use app::error::{AppError, ErrorCode};
use app::validate::validate_label;
use chrono::Utc;
use uuid::Uuid;

use super::secret::{self, hash_secret};
use super::{password, to_user, AccountService};
use crate::db::users::{self as q, QuotaRow, TokenRow, UserChangeError, UserRow};
use crate::db::Db;
use crate::error::report;

/// API tokens one user may hold at once.
const MAX_TOKENS_PER_USER: i64 = 100;

pub(super) fn to_token(row: TokenRow) -> ApiToken {
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
pub async fn quota_report(db: &Db, username: &str) -> Result<QuotaReport, crate::db::DbError> {
    let username = username.to_string();
    let (limits, used) = db
        .run(move |conn| {
            Ok((
                q::quota_fetch(conn, &username)?,
                q::usage_of(conn, &username)?,
            ))
        })
        .await?;
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

async fn user_detail(db: &Db, user: &UserRow) -> Result<UserDetail, AppError> {
    Ok(UserDetail {
        user: to_user(user),
        quota: quota_report(db, &user.username).await.map_err(report)?,
    })
}

fn no_such_user(username: &str) -> AppError {
    AppError::new(
        ErrorCode::NotFound,
        format!("There is no user named \"{username}\"."),
    )
}

fn change_error(username: &str, error: UserChangeError) -> AppError {
    match error {
        UserChangeError::NoSuchUser => no_such_user(username),
        UserChangeError::LastAdmin => AppError::new(
            ErrorCode::InvalidState,
            "That would leave no admin who can log in.",
        ),
        UserChangeError::Db(error) if error.is_foreign_key_violation(q::VMS_OWNER_FKEY) => {
            AppError::new(
                ErrorCode::InvalidState,
                format!(
                    "\"{username}\" still owns VMs: delete them first, or disable the account instead."
                ),
            )
        }
        UserChangeError::Db(error) => report(error),
    }
}

/// A failed insert of a user: a clear 409 if the name is taken.
pub(super) fn insert_error(username: &str, error: crate::db::DbError) -> AppError {
    if error.is_unique_violation(q::USERS_PKEY) {
        AppError::new(
            ErrorCode::UserAlreadyExists,
            format!("A user named \"{username}\" already exists."),
        )
    } else {
        report(error)
    }
}

/// Creates a user: the admin API and `limen user add` both come here (each audits it).
pub async fn create_user_directly(
    db: &Db,
    request: &CreateUserRequest,
) -> Result<UserDetail, AppError> {
    validate_label("A username", &request.username)?;
    password::validate(&request.password)?;
    let quota = to_quota_row(&request.quota)?;
    let hash = password::hash(request.password.clone()).await?;
    let (username, role) = (request.username.clone(), request.role);
    let user = db
        .run(move |conn| q::user_insert(conn, &username, &hash, role, quota))
        .await
        .map_err(|error| insert_error(&request.username, error))?;
    user_detail(db, &user).await
}

/// What a user update changed, for the audit log (never the password itself).
pub(super) fn describe_update(request: &UpdateUserRequest) -> String {
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

/// Whether an update ends the user's sessions (and open connections).
pub(super) fn ends_sessions(request: &UpdateUserRequest) -> bool {
    request.password.is_some() || request.disabled == Some(true) || request.role.is_some()
}

impl AccountService {
    pub(super) async fn list_users_now(&self) -> Result<Vec<UserDetail>, AppError> {
        let users = self.db.run(q::user_list).await.map_err(report)?;
        let mut details = Vec::with_capacity(users.len());
        for user in &users {
            details.push(user_detail(&self.db, user).await?);
        }
        Ok(details)
    }

    pub(super) async fn update_user_now(
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
        let (name, role, disabled) = (username.to_string(), request.role, request.disabled);
        // Dropped before the change (nothing serves the old state from the cache while it
        // commits) and again after it (a lookup that raced it is not kept).
        self.account_changed(username, false);
        let changed = self
            .db
            .run(move |conn| {
                Ok(q::user_update(
                    conn,
                    &name,
                    hash.as_deref(),
                    role,
                    disabled,
                    quota,
                ))
            })
            .await
            .map_err(report)?;
        self.account_changed(username, ends_sessions(request));
        let user = changed.map_err(|error| change_error(username, error))?;
        user_detail(&self.db, &user).await
    }

    pub(super) async fn delete_user_now(
        &self,
        caller: &Principal,
        username: &str,
    ) -> Result<(), AppError> {
        if username == caller.username {
            return Err(AppError::new(
                ErrorCode::InvalidState,
                "You cannot delete yourself.",
            ));
        }
        let name = username.to_string();
        self.account_changed(username, false);
        let deleted = self
            .db
            .run(move |conn| Ok(q::user_delete(conn, &name)))
            .await
            .map_err(report)?;
        self.account_changed(username, deleted.is_ok());
        deleted.map_err(|error| change_error(username, error))
    }

    pub(super) async fn set_language_now(
        &self,
        caller: &Principal,
        language: Option<&str>,
    ) -> Result<User, AppError> {
        let language = language
            .map(|code| {
                app::language::from_code(code)
                    .map(app::language::code)
                    .ok_or_else(|| {
                        let known: Vec<_> = app::language::all_languages()
                            .iter()
                            .map(|&l| app::language::code(l))
                            .collect();
                        AppError::validation(format!(
                            "The dashboard speaks these languages: {}.",
                            known.join(", ")
                        ))
                    })
            })
            .transpose()?;
        let name = caller.username.clone();
        // Forgotten before and after, like any account change: the next page is rendered in
        // the new language, never the cached old one.
        self.account_changed(&caller.username, false);
        let changed = self
            .db
            .run(move |conn| {
                if !q::user_set_language(conn, &name, language)? {
                    return Ok(None);
                }
                q::user_fetch(conn, &name)
            })
            .await
            .map_err(report)?;
        self.account_changed(&caller.username, false);
        changed
            .map(|row| to_user(&row))
            .ok_or_else(AppError::unauthorized)
    }

    pub(super) async fn create_token_now(
        &self,
        caller: &Principal,
        request: &CreateTokenRequest,
    ) -> Result<NewApiToken, AppError> {
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
                if q::token_count(conn, &username)? >= MAX_TOKENS_PER_USER {
                    return Ok(None);
                }
                q::token_insert(conn, Uuid::new_v4(), &username, &name, &hash, expires_at).map(Some)
            })
            .await
            .map_err(report)?
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::InvalidState,
                    format!("You have {MAX_TOKENS_PER_USER} API tokens; revoke one first."),
                )
            })?;
        Ok(NewApiToken {
            token: to_token(row),
            secret,
        })
    }

    pub(super) async fn revoke_token_now(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> Result<(), AppError> {
        let username = caller.username.clone();
        let removed = self
            .db
            .run(move |conn| q::token_delete(conn, &username, id))
            .await
            .map_err(report)?;
        match removed {
            Some(hash) => {
                self.credential_ended(&hash);
                Ok(())
            }
            None => Err(AppError::new(
                ErrorCode::NotFound,
                "You have no such token.",
            )),
        }
    }
}
