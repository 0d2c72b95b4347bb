//! Layer errors → the wire error (`app::error::AppError`) → HTTP.
//!
//! Each layer has its own error enum whose `Display` says what failed and whose `source` says
//! why; none of them is sent to a client. [`Describe`] turns one into the sentence and code a
//! user reads — written for users: never a host path, never libvirt's or PostgreSQL's own text
//! (libvirt's reason only where it is the user's business, see `HostError::user_reason`).
//! [`report`] is what an edge calls (the service's ports, a handler, a background loop): it
//! describes the error and logs the whole cause chain, once, when the failure is the server's.

use std::error::Error as StdError;

use app::error::{AppError, ErrorCode};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::db::DbError;
use crate::host::disk::DiskError;
use crate::host::library::LibraryError;
use crate::host::HostError;

/// `error: cause: cause…` for logs.
pub fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What a user is told about an error: a sentence and a code. Pure: no logging.
pub trait Describe: StdError {
    fn describe(&self) -> AppError;
}

/// The wire error for `error`, its cause chain logged once if the server is at fault (5xx).
/// Call it where the error leaves the server's layers, and only there.
pub fn report<E: Describe>(error: E) -> AppError {
    let wire = error.describe();
    match wire.code {
        ErrorCode::DatabaseUnavailable | ErrorCode::HypervisorUnavailable => {
            tracing::warn!(error = %chain(&error), code = ?wire.code, "a dependency is unavailable")
        }
        _ if wire.status() >= 500 => {
            tracing::error!(error = %chain(&error), code = ?wire.code, "request failed")
        }
        _ => tracing::debug!(error = %chain(&error), code = ?wire.code, "request refused"),
    }
    wire
}

impl Describe for AppError {
    fn describe(&self) -> AppError {
        self.clone()
    }
}

impl Describe for DbError {
    fn describe(&self) -> AppError {
        match self {
            DbError::Unavailable(_) => AppError::new(
                ErrorCode::DatabaseUnavailable,
                "The database is unreachable; try again shortly.",
            ),
            _ => AppError::new(ErrorCode::Internal, "A database operation failed."),
        }
    }
}

impl Describe for HostError {
    fn describe(&self) -> AppError {
        match self {
            HostError::NoDomain => AppError::vm_not_found(),
            HostError::NoSnapshot => AppError::new(
                ErrorCode::SnapshotNotFound,
                "The VM has no snapshot of that name.",
            ),
            HostError::InvalidState { what, .. } => AppError::new(
                ErrorCode::InvalidState,
                format!("libvirt refused to {what}: the VM is not in a state that allows it."),
            ),
            HostError::Unavailable { .. } => AppError::new(
                ErrorCode::HypervisorUnavailable,
                "The hypervisor (libvirt) is unreachable; try again shortly.",
            ),
            HostError::Unreachable { host, reason } => AppError::new(
                ErrorCode::HypervisorUnavailable,
                format!("The host {host} is unreachable: {reason}. Limen keeps trying."),
            ),
            HostError::UnknownHost(_) => AppError::new(
                ErrorCode::Internal,
                "The VM's host is not managed by Limen any more.",
            ),
            HostError::NotWatched => AppError::new(
                ErrorCode::Internal,
                "This Limen process does not follow the hypervisor's events.",
            ),
            HostError::Libvirt { what, .. } => {
                let message = match self.user_reason() {
                    Some(reason) => format!("libvirt could not {what}: {reason}."),
                    None => format!("libvirt could not {what}; the server log says why."),
                };
                AppError::new(ErrorCode::Internal, message)
            }
            HostError::NoCdromDrive => AppError::new(
                ErrorCode::InvalidState,
                "This VM has no CD-ROM drive to put an ISO in.",
            ),
            HostError::Definition(_) => AppError::new(
                ErrorCode::Internal,
                "Limen cannot read or change this VM's definition; the server log says why.",
            ),
            HostError::Join(_) => {
                AppError::new(ErrorCode::Internal, "A hypervisor call was interrupted.")
            }
        }
    }
}

impl Describe for DiskError {
    fn describe(&self) -> AppError {
        if let DiskError::QemuImg { stderr, .. } = self {
            if stderr.contains("lock") {
                return AppError::new(
                    ErrorCode::InvalidState,
                    "The disk is in use by a running VM; stop the VM first.",
                );
            }
            if stderr.contains("No space left") {
                return AppError::new(
                    ErrorCode::InsufficientStorage,
                    "The disk that holds Limen's data directory is full.",
                );
            }
        }
        let message = match self {
            DiskError::Cancelled => {
                return AppError::new(ErrorCode::InvalidState, "The operation was cancelled.")
            }
            DiskError::Dir { .. } => "The disk directory cannot be prepared.",
            DiskError::Exists { .. } => "A disk file with this VM's name exists already.",
            DiskError::Spawn(_) | DiskError::QemuImg { .. } => {
                "qemu-img could not create or read the disk image; the server log says why."
            }
            DiskError::OutsideDiskDir { .. } => "The disk is not in Limen's disk directory.",
            DiskError::Remove { .. } => "The disk file could not be deleted.",
        };
        AppError::new(ErrorCode::Internal, message)
    }
}

impl Describe for LibraryError {
    fn describe(&self) -> AppError {
        match self {
            LibraryError::InvalidName(message) => AppError::validation(message.clone()),
            LibraryError::NotFound { kind, name } => {
                let code = if *kind == "ISO" {
                    ErrorCode::IsoNotFound
                } else {
                    ErrorCode::ImageNotFound
                };
                AppError::new(
                    code,
                    format!("There is no {kind} named \"{name}\" in the library."),
                )
            }
            LibraryError::Exists { kind, name } => AppError::new(
                ErrorCode::MediaAlreadyExists,
                format!("There is already an {kind} named \"{name}\" in the library; delete it first or choose another name."),
            ),
            LibraryError::Full { kind } => AppError::new(
                ErrorCode::InsufficientStorage,
                format!("The disk that holds the {kind} library is full; nothing was kept. Free some space and try again."),
            ),
            LibraryError::Io { kind, .. } => AppError::new(
                ErrorCode::Internal,
                format!("The {kind} library cannot be read or written; the server log says why."),
            ),
        }
    }
}

/// An `AppError` as an HTTP response: its status, `{"error","code"}`, and `Retry-After` when
/// the refusal ends by itself.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.0.retry_after;
        let mut response = (status, Json(self.0)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
