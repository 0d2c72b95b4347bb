//! The one mapping from layer errors to the wire error (`app::error::AppError`) and to HTTP.
//! Server-side failures are logged here, once, with their whole cause chain; the client gets a
//! sentence and a code, never a stack trace.

use std::error::Error as StdError;

use app::error::{AppError, ErrorCode};
use axum::http::StatusCode;
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

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        ApiError(db_error(error))
    }
}

pub fn db_error(error: DbError) -> AppError {
    tracing::error!(error = %chain(&error), "database error");
    match error {
        DbError::Unavailable(_) => AppError::new(
            ErrorCode::DatabaseUnavailable,
            "The database is unreachable; try again shortly.",
        ),
        _ => AppError::new(ErrorCode::Internal, "A database operation failed."),
    }
}

pub fn host_error(error: HostError) -> AppError {
    match error {
        HostError::NoDomain => AppError::vm_not_found(),
        HostError::InvalidState(message) => AppError::new(
            ErrorCode::InvalidState,
            format!("The hypervisor refused: {message}."),
        ),
        error @ HostError::Unavailable { .. } => {
            tracing::error!(error = %chain(&error), "hypervisor unavailable");
            AppError::new(
                ErrorCode::HypervisorUnavailable,
                "The hypervisor (libvirt) is unreachable; try again shortly.",
            )
        }
        error => {
            tracing::error!(error = %chain(&error), "hypervisor error");
            AppError::new(ErrorCode::Internal, format!("{error}."))
        }
    }
}

pub fn disk_error(error: DiskError) -> AppError {
    tracing::error!(error = %chain(&error), "disk error");
    AppError::new(ErrorCode::Internal, format!("{error}."))
}

/// An `AppError` as an HTTP response: its status and `{"error","code"}`.
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
        (status, Json(self.0)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

pub fn library_error(error: LibraryError) -> AppError {
    match error {
        LibraryError::InvalidName(message) => AppError::validation(message),
        LibraryError::NotFound { kind, name } => {
            let code = if kind == "ISO" {
                ErrorCode::IsoNotFound
            } else {
                ErrorCode::ImageNotFound
            };
            AppError::new(
                code,
                format!("There is no {kind} named \"{name}\" in the library."),
            )
        }
        error @ LibraryError::Io { .. } => {
            tracing::error!(error = %chain(&error), "library error");
            AppError::new(ErrorCode::Internal, format!("{error}."))
        }
    }
}
