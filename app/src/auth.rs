//! Wire types of users, sessions, API tokens, quotas and the audit log (SPEC §9), shared by the
//! REST API, the server functions and the dashboard.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees and manages every VM, the users, quotas, reconcile and the whole audit log.
    Admin,
    /// Sees and acts on its own VMs only.
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "user" => Ok(Role::User),
            other => Err(format!("{other:?} is not a role (admin or user)")),
        }
    }
}

/// Who a request is from: set by the server's authentication layer, read by every handler and
/// server function (server side only; never sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub username: String,
    pub role: Role,
    /// The SHA-256 of the secret the request came with (a session's or an API token's): what a
    /// logout or a revocation names.
    pub credential: String,
    /// Whether that secret is a login session (else an API token).
    pub by_session: bool,
    /// When the credential stops working, if it does (a long-lived connection ends then).
    pub expires_at: Option<DateTime<Utc>>,
    /// The client's address, for the audit log and the login rate limit.
    pub address: Option<std::net::IpAddr>,
    /// The dashboard language the user chose, if any: pages are rendered in it.
    pub language: Option<String>,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether this caller may see (and act on) a VM owned by `owner`.
    pub fn may_see(&self, owner: Option<&str>) -> bool {
        self.is_admin() || owner == Some(self.username.as_str())
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct User {
    pub username: String,
    pub role: Role,
    /// A disabled user cannot log in, and its sessions and API tokens stop working.
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    /// The dashboard language the user chose (`en`, `ko`); `null`: none, the browser's decides.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(required))]
    pub language: Option<String>,
}

/// `PUT /api/v1/me/language`: the caller's dashboard language (`null` forgets the choice). The
/// field must be there: a body without it (a typo) is refused, not taken as `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SetLanguageRequest {
    /// `en`, `ko`, or `null`.
    #[serde(deserialize_with = "present")]
    #[cfg_attr(feature = "ssr", schema(required))]
    pub language: Option<String>,
}

/// Deserializes a field that may be `null` but not missing (serde would make a missing
/// `Option` `None`; with `deserialize_with` it is an error instead).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::deserialize(deserializer)
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// A new session: its token (also set as the `limen_session` cookie) and when it expires.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

/// The first admin of a fresh install, authorised by the one-time setup token the server logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SetupRequest {
    pub setup_token: String,
    pub username: String,
    pub password: String,
}

/// Limits per user; `null` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Quota {
    /// How many VMs.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub max_vms: Option<u32>,
    /// vCPUs of all the user's VMs together.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub max_vcpus: Option<u32>,
    /// Memory of all the user's VMs together, MiB.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub max_memory_mib: Option<u64>,
    /// Disk of all the user's VMs together, GiB.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub max_disk_gb: Option<u64>,
}

/// What a user's VMs hold now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Usage {
    pub vms: u32,
    pub vcpus: u32,
    /// MiB.
    pub memory_mib: u64,
    /// GiB.
    pub disk_gb: u64,
}

/// A user's quota: the limits and what the user's VMs hold now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuotaReport {
    pub limits: Quota,
    pub used: Usage,
}

impl QuotaReport {
    /// The first limit a new VM of this size would break, as a sentence; `None` if it fits.
    pub fn refusal(&self, vcpus: u32, memory_mib: u64, disk_gb: u64) -> Option<String> {
        let (limits, used) = (&self.limits, &self.used);
        let over = |limit: Option<u64>, used: u64, wanted: u64| {
            limit.filter(|&limit| used.saturating_add(wanted) > limit)
        };
        if let Some(limit) = over(limits.max_vms.map(u64::from), used.vms.into(), 1) {
            return Some(format!(
                "Your quota allows {limit} VMs and you have {}.",
                used.vms
            ));
        }
        if let Some(limit) = over(
            limits.max_vcpus.map(u64::from),
            used.vcpus.into(),
            vcpus.into(),
        ) {
            return Some(format!(
                "Your quota allows {limit} vCPUs in all; you use {} and asked for {vcpus}.",
                used.vcpus
            ));
        }
        if let Some(limit) = over(limits.max_memory_mib, used.memory_mib, memory_mib) {
            return Some(format!(
                "Your quota allows {limit} MiB of memory in all; you use {} and asked for {memory_mib}.",
                used.memory_mib
            ));
        }
        if let Some(limit) = over(limits.max_disk_gb, used.disk_gb, disk_gb) {
            return Some(format!(
                "Your quota allows {limit} GiB of disk in all; you use {} and asked for {disk_gb}.",
                used.disk_gb
            ));
        }
        None
    }

    /// The disk limit growing a disk by `more_gb` would break, as a sentence; `None` if it fits.
    pub fn growth_refusal(&self, more_gb: u64) -> Option<String> {
        let limit = self.limits.max_disk_gb?;
        (self.used.disk_gb.saturating_add(more_gb) > limit).then(|| {
            format!(
                "Your quota allows {limit} GiB of disk in all; you use {} and the resize adds {more_gb}.",
                self.used.disk_gb
            )
        })
    }
}

/// `POST /api/v1/users` (admins).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateUserRequest {
    pub username: String,
    pub password: String,
    pub role: Role,
    /// Absent: no limits.
    #[serde(default)]
    pub quota: Quota,
}

/// `PATCH /api/v1/users/{username}`: a change to a user; absent fields stay as they are.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UpdateUserRequest {
    /// A new password.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub role: Option<Role>,
    /// `true` disables the account (its sessions and API tokens stop working), `false` enables it.
    #[serde(default)]
    pub disabled: Option<bool>,
    /// The new limits, all four at once (`null`: no limit).
    #[serde(default)]
    pub quota: Option<Quota>,
}

/// A user as the admin page shows it: the account, its quota and what it uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserDetail {
    #[serde(flatten)]
    pub user: User,
    pub quota: QuotaReport,
}

/// An API token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiToken {
    /// What `DELETE /api/v1/tokens/{id}` takes.
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// When it stops working; `null`: it works until revoked.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub expires_at: Option<DateTime<Utc>>,
    /// `null`: never used.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreateTokenRequest {
    /// A label, to tell the tokens apart.
    pub name: String,
    /// Days until it stops working; absent: until revoked.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A token just made: the secret is in this answer and nowhere else, ever.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewApiToken {
    #[serde(flatten)]
    pub token: ApiToken,
    /// Sent as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// Whether an audited action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        }
    }
}

impl std::str::FromStr for Outcome {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "success" => Ok(Outcome::Success),
            "failure" => Ok(Outcome::Failure),
            other => Err(format!("{other:?} is not an outcome (success or failure)")),
        }
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// Who acted; `null` when nobody was logged in (a failed login names its user in `target`).
    #[cfg_attr(feature = "ssr", schema(required))]
    pub username: Option<String>,
    /// The client's IP address, if known.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub address: Option<String>,
    /// What was done: `vm.start`, `auth.login`, …
    pub action: String,
    /// What it was done to (a VM, a user, a file), if anything.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub target: Option<String>,
    pub outcome: Outcome,
    /// More about it (why it failed, what changed), if anything.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub detail: Option<String>,
}

/// Which entries to read: newest first, `limit` of them, older than `before` (an entry id).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditQuery {
    /// An entry id: only entries older than it.
    #[serde(default)]
    pub before: Option<i64>,
    /// How many entries (at most 200); absent: 50.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// A page of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; `null` on the last page.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub next_before: Option<i64>,
}

/// Passwords and secrets never reach a log line, even through `{:?}`.
mod redacted {
    use super::*;
    use std::fmt;

    const HIDDEN: &str = "<redacted>";

    impl fmt::Debug for LoginRequest {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("LoginRequest")
                .field("username", &self.username)
                .field("password", &HIDDEN)
                .finish()
        }
    }

    impl fmt::Debug for SetupRequest {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("SetupRequest")
                .field("setup_token", &HIDDEN)
                .field("username", &self.username)
                .field("password", &HIDDEN)
                .finish()
        }
    }

    impl fmt::Debug for CreateUserRequest {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("CreateUserRequest")
                .field("username", &self.username)
                .field("password", &HIDDEN)
                .field("role", &self.role)
                .field("quota", &self.quota)
                .finish()
        }
    }

    impl fmt::Debug for UpdateUserRequest {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("UpdateUserRequest")
                .field("password", &self.password.as_ref().map(|_| HIDDEN))
                .field("role", &self.role)
                .field("disabled", &self.disabled)
                .field("quota", &self.quota)
                .finish()
        }
    }

    impl fmt::Debug for LoginResponse {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("LoginResponse")
                .field("token", &HIDDEN)
                .field("expires_at", &self.expires_at)
                .field("user", &self.user)
                .finish()
        }
    }

    impl fmt::Debug for NewApiToken {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("NewApiToken")
                .field("token", &self.token)
                .field("secret", &HIDDEN)
                .finish()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn debug_output_hides_passwords_and_secrets() {
            let login = LoginRequest {
                username: "alice".into(),
                password: "hunter22".into(),
            };
            let text = format!("{login:?}");
            assert!(
                text.contains("alice") && !text.contains("hunter22"),
                "{text}"
            );
            let update = UpdateUserRequest {
                password: Some("hunter22".into()),
                ..Default::default()
            };
            assert!(!format!("{update:?}").contains("hunter22"));
        }
    }
}
