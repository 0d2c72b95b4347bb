//! The one wire error: what every REST response and every server function returns on failure.
//!
//! Serialized as `{"error": "<human sentence>", "code": "<CODE>"}` (SPEC §10). The server maps
//! its layer errors into this type in exactly one place (`server/src/error.rs`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Machine-readable error codes; each has one HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    ValidationFailed,
    Unauthorized,
    Forbidden,
    QuotaExceeded,
    NotFound,
    VmNotFound,
    MethodNotAllowed,
    IsoNotFound,
    ImageNotFound,
    /// The VM has no snapshot of that name.
    SnapshotNotFound,
    /// No managed host of that key.
    HostNotFound,
    VmAlreadyExists,
    /// A host of that name, or the same libvirt under another URI, is already managed.
    HostAlreadyExists,
    /// A host that still has VMs cannot be removed (the sentence names them).
    HostInUse,
    UserAlreadyExists,
    /// An ISO or base image of that name is already in its library.
    MediaAlreadyExists,
    /// An ISO attached to a VM, or a base image a disk is built on, cannot be deleted.
    MediaInUse,
    /// The VM already has a snapshot of that name.
    SnapshotAlreadyExists,
    /// The VM has as many snapshots as one VM may have (`max_snapshots_per_vm`).
    SnapshotLimitReached,
    /// The upload is not an ISO 9660 image.
    NotAnIso,
    /// The data directory's filesystem is full.
    InsufficientStorage,
    InvalidState,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    VmCreationFailed,
    /// libvirt could not start the VM (the sentence says why, in words).
    VmStartFailed,
    /// A console needs the VM running, and it is not (autostart off, or it stopped).
    VmNotRunning,
    VncUnavailable,
    SerialUnavailable,
    /// A WebSocket endpoint asked for without the upgrade.
    UpgradeRequired,
    Internal,
    HypervisorUnavailable,
    DatabaseUnavailable,
}

impl ErrorCode {
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::ValidationFailed => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden | ErrorCode::QuotaExceeded => 403,
            ErrorCode::NotFound
            | ErrorCode::VmNotFound
            | ErrorCode::IsoNotFound
            | ErrorCode::ImageNotFound
            | ErrorCode::SnapshotNotFound
            | ErrorCode::HostNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::VmAlreadyExists
            | ErrorCode::UserAlreadyExists
            | ErrorCode::MediaAlreadyExists
            | ErrorCode::MediaInUse
            | ErrorCode::SnapshotAlreadyExists
            | ErrorCode::HostAlreadyExists
            | ErrorCode::HostInUse
            | ErrorCode::SnapshotLimitReached
            | ErrorCode::InvalidState
            | ErrorCode::VmNotRunning => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UpgradeRequired => 426,
            ErrorCode::UnsupportedMediaType | ErrorCode::NotAnIso => 415,
            ErrorCode::InsufficientStorage => 507,
            ErrorCode::RateLimited => 429,
            ErrorCode::VmCreationFailed | ErrorCode::VmStartFailed | ErrorCode::Internal => 500,
            ErrorCode::HypervisorUnavailable
            | ErrorCode::DatabaseUnavailable
            | ErrorCode::VncUnavailable
            | ErrorCode::SerialUnavailable => 503,
        }
    }
}

/// The body of every failed request: `{"error": "<sentence>", "code": "<CODE>"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(as = ApiError))]
pub struct AppError {
    /// A sentence a person understands.
    #[serde(rename = "error")]
    pub message: String,
    pub code: ErrorCode,
    /// For a refusal that ends by itself (429): seconds until trying again makes sense. Sent as
    /// the `Retry-After` header, not in the body.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same error, saying when trying again makes sense.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message)
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "Log in first.")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn admin_only() -> Self {
        Self::forbidden("Only an admin may do this.")
    }

    pub fn vm_not_found() -> Self {
        Self::new(ErrorCode::VmNotFound, "No such virtual machine.")
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Request(detail) => Self::new(
                ErrorCode::Internal,
                format!("Could not reach the Limen server: {detail}"),
            ),
            E::Args(detail) | E::Deserialization(detail) => {
                Self::validation(format!("The request was not understood: {detail}"))
            }
            other => Self::new(ErrorCode::Internal, format!("The request failed: {other}")),
        }
    }
}
