//! (ssr only) What the dashboard needs from the server, as traits the server implements.
//!
//! `app` never touches diesel or libvirt; the server puts an implementation of these ports into
//! Leptos context, and server-function bodies reach it through [`vm_port`].

use std::sync::Arc;

use async_trait::async_trait;
use leptos::prelude::*;

use crate::auth::{
    ApiToken, AuditPage, AuditQuery, CreateTokenRequest, CreateUserRequest, LoginRequest,
    LoginResponse, NewApiToken, Principal, QuotaReport, SetupRequest, UpdateUserRequest, User,
    UserDetail,
};
use crate::error::{AppError, ErrorCode};
use crate::hosts::{AddHostRequest, Host, MigrateRequest, UpdateHostRequest};
use crate::machine::{
    BootOrderReport, CreateImageRequest, DiskInfo, InstallationReport, OperationProgress, RoleCount,
};
use crate::report::{AdoptRequest, ReconcileReport};
use crate::snapshots::{CreateSnapshotRequest, Snapshot};
use crate::types::{BootOrder, CreateVmRequest, DeleteReport, MediaFile, Vm, VmAction, VmId};
use uuid::Uuid;

/// The one service layer every screen and endpoint goes through (SPEC §3). Every call names its
/// caller: a user sees and acts on their own VMs only (another's is `VM_NOT_FOUND`), an admin on
/// all; reconcile, adopt and forget are admin-only.
#[async_trait]
pub trait VmPort: Send + Sync + 'static {
    async fn list_vms(&self, caller: &Principal) -> Result<Vec<Vm>, AppError>;
    /// The caller's VMs with this role.
    async fn list_vms_with_role(&self, caller: &Principal, role: &str)
        -> Result<Vec<Vm>, AppError>;
    /// The roles of the caller's VMs, with counts.
    async fn roles(&self, caller: &Principal) -> Result<Vec<RoleCount>, AppError>;
    /// Sets or (`None`) clears a VM's role.
    async fn set_role(
        &self,
        caller: &Principal,
        id: VmId,
        role: Option<String>,
    ) -> Result<Vm, AppError>;
    /// The ISO library (`data_dir/isos`), each ISO with the caller's VMs that have it in.
    async fn list_isos(&self, caller: &Principal) -> Result<Vec<MediaFile>, AppError>;
    /// Deletes an ISO from the library (admins); refused while a VM has it in its drive.
    async fn delete_iso(&self, caller: &Principal, name: String) -> Result<(), AppError>;
    /// Puts a library ISO in the VM's CD-ROM drive (`None`: ejects it), live and persistent.
    async fn change_media(
        &self,
        caller: &Principal,
        id: VmId,
        iso: Option<String>,
    ) -> Result<Vm, AppError>;
    async fn boot_order(&self, caller: &Principal, id: VmId) -> Result<BootOrderReport, AppError>;
    async fn set_boot_order(
        &self,
        caller: &Principal,
        id: VmId,
        order: BootOrder,
    ) -> Result<BootOrderReport, AppError>;
    async fn installation(
        &self,
        caller: &Principal,
        id: VmId,
    ) -> Result<InstallationReport, AppError>;
    /// Marks the installation done, or (`failed`) failed.
    async fn complete_installation(
        &self,
        caller: &Principal,
        id: VmId,
        failed: bool,
    ) -> Result<InstallationReport, AppError>;
    async fn disk(&self, caller: &Principal, id: VmId) -> Result<DiskInfo, AppError>;
    /// Grows the system disk to `size_gb` GiB (never shrinks it).
    async fn resize_disk(
        &self,
        caller: &Principal,
        id: VmId,
        size_gb: u64,
    ) -> Result<DiskInfo, AppError>;
    /// The base-image library (`data_dir/images`), each image with the VMs built on it.
    async fn list_images(&self, caller: &Principal) -> Result<Vec<MediaFile>, AppError>;
    /// Starts making a base image of a stopped VM's disk (admins); answers at once.
    async fn create_image(
        &self,
        caller: &Principal,
        request: CreateImageRequest,
    ) -> Result<OperationProgress, AppError>;
    /// Deletes a base image (admins); refused while a VM's disk is built on it.
    async fn delete_image(&self, caller: &Principal, name: String) -> Result<(), AppError>;
    /// The long operations running now (admins see them; a user has none).
    async fn operations(&self, caller: &Principal) -> Result<Vec<OperationProgress>, AppError>;
    /// Cancels a running operation (admins).
    async fn cancel_operation(&self, caller: &Principal, id: Uuid) -> Result<(), AppError>;
    async fn get_vm(&self, caller: &Principal, id: VmId) -> Result<Vm, AppError>;
    async fn snapshots(&self, caller: &Principal, id: VmId) -> Result<Vec<Snapshot>, AppError>;
    async fn create_snapshot(
        &self,
        caller: &Principal,
        id: VmId,
        request: CreateSnapshotRequest,
    ) -> Result<Snapshot, AppError>;
    async fn revert_snapshot(
        &self,
        caller: &Principal,
        id: VmId,
        name: String,
    ) -> Result<Snapshot, AppError>;
    async fn delete_snapshot(
        &self,
        caller: &Principal,
        id: VmId,
        name: String,
    ) -> Result<(), AppError>;
    async fn create_vm(&self, caller: &Principal, request: CreateVmRequest)
        -> Result<Vm, AppError>;
    async fn act_on_vm(
        &self,
        caller: &Principal,
        id: VmId,
        action: VmAction,
    ) -> Result<Vm, AppError>;
    async fn delete_vm(&self, caller: &Principal, id: VmId) -> Result<DeleteReport, AppError>;
    /// The libvirt hosts: every one for an admin, the hosts of their own VMs for a user.
    async fn list_hosts(&self, caller: &Principal) -> Result<Vec<Host>, AppError>;
    /// Adds a host (admins): Limen connects to it first, and refuses one it cannot reach.
    async fn add_host(&self, caller: &Principal, request: AddHostRequest)
        -> Result<Host, AppError>;
    /// Renames, enables or disables a host (admins).
    async fn update_host(
        &self,
        caller: &Principal,
        key: &str,
        request: UpdateHostRequest,
    ) -> Result<Host, AppError>;
    /// Moves a VM to another host, live if it runs (admins).
    async fn migrate_vm(
        &self,
        caller: &Principal,
        id: VmId,
        request: MigrateRequest,
    ) -> Result<Vm, AppError>;
    /// Removes a host that has no VM (admins).
    async fn remove_host(&self, caller: &Principal, key: &str) -> Result<(), AppError>;
    /// Compares hypervisor, database and disks; fixes drift, reports the rest (SPEC §6).
    async fn reconcile(&self, caller: &Principal) -> Result<ReconcileReport, AppError>;
    /// Takes a ghost domain under management.
    async fn adopt_vm(&self, caller: &Principal, request: AdoptRequest) -> Result<Vm, AppError>;
    /// Removes the record of a missing VM (its domain is gone) and nothing else: a disk it had
    /// stays, to be found as an orphan.
    async fn forget_vm(&self, caller: &Principal, id: VmId) -> Result<(), AppError>;
}

/// Accounts: sessions, API tokens, users, quotas and the audit log (SPEC §9).
#[async_trait]
pub trait AccountPort: Send + Sync + 'static {
    /// Checks the password (rate-limited per user and per address) and opens a session.
    async fn login(
        &self,
        request: LoginRequest,
        address: Option<std::net::IpAddr>,
    ) -> Result<LoginResponse, AppError>;
    /// The `Set-Cookie` value that carries a new session to the browser.
    fn session_cookie(&self, session: &LoginResponse) -> String;
    /// The `Set-Cookie` value that removes the session cookie.
    fn cleared_cookie(&self) -> String;
    /// The `Set-Cookie` value that carries a language choice to this browser (`None` clears it).
    fn language_cookie(&self, language: Option<&str>) -> String;
    /// Stores (or, with `None`, forgets) the caller's dashboard language.
    async fn set_language(
        &self,
        caller: &Principal,
        language: Option<String>,
    ) -> Result<User, AppError>;
    /// Ends the caller's session (a token caller has none: nothing happens).
    async fn logout(&self, caller: &Principal) -> Result<(), AppError>;
    async fn me(&self, caller: &Principal) -> Result<User, AppError>;
    /// Whether no admin exists yet (the login page then points to the setup page).
    async fn setup_needed(&self) -> Result<bool, AppError>;
    /// Creates the first admin with the one-time setup token, and logs them in.
    async fn setup_admin(
        &self,
        request: SetupRequest,
        address: Option<std::net::IpAddr>,
    ) -> Result<LoginResponse, AppError>;
    async fn list_tokens(&self, caller: &Principal) -> Result<Vec<ApiToken>, AppError>;
    async fn create_token(
        &self,
        caller: &Principal,
        request: CreateTokenRequest,
    ) -> Result<NewApiToken, AppError>;
    async fn revoke_token(&self, caller: &Principal, id: Uuid) -> Result<(), AppError>;
    /// The caller's own limits and usage.
    async fn quota(&self, caller: &Principal) -> Result<QuotaReport, AppError>;
    async fn list_users(&self, caller: &Principal) -> Result<Vec<UserDetail>, AppError>;
    async fn create_user(
        &self,
        caller: &Principal,
        request: CreateUserRequest,
    ) -> Result<UserDetail, AppError>;
    async fn update_user(
        &self,
        caller: &Principal,
        username: String,
        request: UpdateUserRequest,
    ) -> Result<UserDetail, AppError>;
    /// Refused while the user owns VMs.
    async fn delete_user(&self, caller: &Principal, username: String) -> Result<(), AppError>;
    /// Newest first; an admin reads everyone's entries, a user their own.
    async fn audit(&self, caller: &Principal, query: AuditQuery) -> Result<AuditPage, AppError>;
}

/// Everything the server provides to server functions.
#[derive(Clone)]
pub struct Ports {
    pub vms: Arc<dyn VmPort>,
    pub accounts: Arc<dyn AccountPort>,
}

fn ports() -> Result<Ports, AppError> {
    use_context::<Ports>().ok_or_else(|| {
        AppError::new(
            ErrorCode::Internal,
            "The server is missing its service layer.",
        )
    })
}

pub fn vm_port() -> Result<Arc<dyn VmPort>, AppError> {
    Ok(ports()?.vms)
}

pub fn account_port() -> Result<Arc<dyn AccountPort>, AppError> {
    Ok(ports()?.accounts)
}

/// The caller of this server function, as the authentication layer found it; 401 without one.
pub fn caller() -> Result<Principal, AppError> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>().cloned())
        .ok_or_else(AppError::unauthorized)
}

/// The client's address (for the login rate limit), as the authentication layer found it.
pub fn client_address() -> Option<std::net::IpAddr> {
    use_context::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<ClientAddress>().copied())
        .and_then(|address| address.0)
}

/// Put into every request's extensions by the server: the peer's IP address, if known.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<std::net::IpAddr>);

/// Sets a response header on the server function's answer (the session cookie).
pub fn set_response_header(name: http::HeaderName, value: &str) {
    if let (Some(options), Ok(value)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(value),
    ) {
        options.append_header(name, value);
    }
}

/// Gives a failed server function the HTTP status of its error (and `Retry-After`), as REST
/// does.
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(error) = &result {
        if let Some(options) = use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(error.status()) {
                options.set_status(status);
            }
            if let Some(seconds) = error.retry_after {
                options.insert_header(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
            }
        }
    }
    result
}
