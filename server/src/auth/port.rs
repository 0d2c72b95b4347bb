//! The `AccountPort` the REST API and the server functions call: who may do what, and the audit
//! entry of every change. Each change runs to completion in a task of its own.

use std::net::IpAddr;

use app::auth::{
    ApiToken, AuditPage, AuditQuery, CreateTokenRequest, CreateUserRequest, LoginRequest,
    LoginResponse, NewApiToken, Principal, QuotaReport, SetupRequest, UpdateUserRequest, User,
    UserDetail,
};
use app::error::AppError;
use app::ports::AccountPort;
use async_trait::async_trait;
use uuid::Uuid;

use super::users::{create_user_directly, describe_update, quota_report, to_token};
use super::{to_completion, to_user, AccountService};
use crate::audit::{self, Entry};
use crate::db::users as q;
use crate::error::report;

/// Audit pages hold at most this many entries.
const AUDIT_PAGE_MAX: u32 = 200;

fn require_admin(caller: &Principal) -> Result<(), AppError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(AppError::admin_only())
    }
}

#[async_trait]
impl AccountPort for AccountService {
    async fn login(
        &self,
        request: LoginRequest,
        address: Option<IpAddr>,
    ) -> Result<LoginResponse, AppError> {
        let this = self.clone();
        to_completion(async move {
            let (result, audited) = this.login_now(&request, address).await;
            if result.is_err() {
                crate::metrics::login_failed();
            }
            if audited {
                let entry = Self::attempt_entry("auth.login", &request.username, address, &result);
                this.audit_log.record(entry).await;
            }
            result
        })
        .await
    }

    fn session_cookie(&self, session: &LoginResponse) -> String {
        self.cookie(&session.token, session.expires_at)
    }

    fn cleared_cookie(&self) -> String {
        self.cleared_cookie_value()
    }

    fn language_cookie(&self, language: Option<&str>) -> String {
        self.language_cookie_value(language)
    }

    async fn set_language(
        &self,
        caller: &Principal,
        language: Option<String>,
    ) -> Result<User, AppError> {
        let (this, caller) = (self.clone(), caller.clone());
        to_completion(async move {
            let result = this.set_language_now(&caller, language.as_deref()).await;
            let detail = match &result {
                Ok(user) => user.language.clone().unwrap_or_else(|| "none".into()),
                Err(_) => String::new(),
            };
            this.audit_log
                .record(
                    Entry::by(&caller, "user.language")
                        .target(caller.username.clone())
                        .detail(detail)
                        .outcome(&result),
                )
                .await;
            result
        })
        .await
    }

    async fn logout(&self, caller: &Principal) -> Result<(), AppError> {
        let (this, caller) = (self.clone(), caller.clone());
        to_completion(async move {
            let result = if caller.by_session {
                let hash = caller.credential.clone();
                let deleted = this
                    .db
                    .run(move |conn| {
                        q::session_delete(conn, &hash)?;
                        q::sessions_sweep(conn)
                    })
                    .await
                    .map_err(report);
                this.credential_ended(&caller.credential);
                deleted
            } else {
                // A token is revoked, not logged out of.
                Ok(())
            };
            this.audit_log
                .record(Entry::by(&caller, "auth.logout").outcome(&result))
                .await;
            result
        })
        .await
    }

    async fn me(&self, caller: &Principal) -> Result<User, AppError> {
        let username = caller.username.clone();
        let user = self
            .db
            .run(move |conn| q::user_fetch(conn, &username))
            .await
            .map_err(report)?
            .ok_or_else(AppError::unauthorized)?;
        Ok(to_user(&user))
    }

    async fn setup_needed(&self) -> Result<bool, AppError> {
        let exists = self.db.run(q::admin_exists).await.map_err(report)?;
        Ok(!exists)
    }

    async fn setup_admin(
        &self,
        request: SetupRequest,
        address: Option<IpAddr>,
    ) -> Result<LoginResponse, AppError> {
        let this = self.clone();
        to_completion(async move {
            let (result, audited) = this.setup_now(&request, address).await;
            if audited {
                let entry = Self::attempt_entry("auth.setup", &request.username, address, &result);
                this.audit_log.record(entry).await;
            }
            result
        })
        .await
    }

    async fn list_tokens(&self, caller: &Principal) -> Result<Vec<ApiToken>, AppError> {
        let username = caller.username.clone();
        let rows = self
            .db
            .run(move |conn| q::token_list(conn, &username))
            .await
            .map_err(report)?;
        Ok(rows.into_iter().map(to_token).collect())
    }

    async fn create_token(
        &self,
        caller: &Principal,
        request: CreateTokenRequest,
    ) -> Result<NewApiToken, AppError> {
        let (this, caller) = (self.clone(), caller.clone());
        to_completion(async move {
            let result = this.create_token_now(&caller, &request).await;
            let target = match &result {
                Ok(new) => format!("{} ({})", new.token.name, new.token.id),
                Err(_) => request.name.clone(),
            };
            this.audit_log
                .record(
                    Entry::by(&caller, "token.create")
                        .target(target)
                        .outcome(&result),
                )
                .await;
            result
        })
        .await
    }

    async fn revoke_token(&self, caller: &Principal, id: Uuid) -> Result<(), AppError> {
        let (this, caller) = (self.clone(), caller.clone());
        to_completion(async move {
            let result = this.revoke_token_now(&caller, id).await;
            this.audit_log
                .record(
                    Entry::by(&caller, "token.revoke")
                        .target(id.to_string())
                        .outcome(&result),
                )
                .await;
            result
        })
        .await
    }

    async fn quota(&self, caller: &Principal) -> Result<QuotaReport, AppError> {
        quota_report(&self.db, &caller.username)
            .await
            .map_err(report)
    }

    async fn list_users(&self, caller: &Principal) -> Result<Vec<UserDetail>, AppError> {
        require_admin(caller)?;
        self.list_users_now().await
    }

    async fn create_user(
        &self,
        caller: &Principal,
        request: CreateUserRequest,
    ) -> Result<UserDetail, AppError> {
        let (this, caller) = (self.clone(), caller.clone());
        to_completion(async move {
            let result = match require_admin(&caller) {
                Ok(()) => create_user_directly(&this.db, &request).await,
                Err(error) => Err(error),
            };
            this.audit_log
                .record(
                    Entry::by(&caller, "user.create")
                        .target(request.username.clone())
                        .detail(format!("role={}", request.role.as_str()))
                        .outcome(&result),
                )
                .await;
            result
        })
        .await
    }

    async fn update_user(
        &self,
        caller: &Principal,
        username: String,
        request: UpdateUserRequest,
    ) -> Result<UserDetail, AppError> {
        let (this, caller) = (self.clone(), caller.clone());
        to_completion(async move {
            let result = match require_admin(&caller) {
                Ok(()) => this.update_user_now(&caller, &username, &request).await,
                Err(error) => Err(error),
            };
            this.audit_log
                .record(
                    Entry::by(&caller, "user.update")
                        .target(username)
                        .detail(describe_update(&request))
                        .outcome(&result),
                )
                .await;
            result
        })
        .await
    }

    async fn delete_user(&self, caller: &Principal, username: String) -> Result<(), AppError> {
        let (this, caller) = (self.clone(), caller.clone());
        to_completion(async move {
            let result = match require_admin(&caller) {
                Ok(()) => this.delete_user_now(&caller, &username).await,
                Err(error) => Err(error),
            };
            this.audit_log
                .record(
                    Entry::by(&caller, "user.delete")
                        .target(username)
                        .outcome(&result),
                )
                .await;
            result
        })
        .await
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
            .map_err(report)?;
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
