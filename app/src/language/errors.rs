//! An error as the dashboard shows it. The API's `error` sentence is English and stays so (scripts
//! read it); in another language the dashboard says the error's `code` in that language instead.

use crate::error::{AppError, ErrorCode};
use crate::i18n::Locale;
use crate::tr;

/// The sentence to show for `error` on a page in `locale`: the API's own sentence in the default
/// language (it is written for people, and often says more), else the code's sentence.
pub fn error_sentence(locale: Locale, error: &AppError) -> String {
    if locale == Locale::default() {
        error.message.clone()
    } else {
        code_sentence(locale, error.code).to_string()
    }
}

/// Every code's sentence (`errors.json`).
pub fn code_sentence(locale: Locale, code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::ValidationFailed => tr!(locale, errors.validation_failed),
        ErrorCode::Unauthorized => tr!(locale, errors.unauthorized),
        ErrorCode::Forbidden => tr!(locale, errors.forbidden),
        ErrorCode::QuotaExceeded => tr!(locale, errors.quota_exceeded),
        ErrorCode::NotFound => tr!(locale, errors.not_found),
        ErrorCode::VmNotFound => tr!(locale, errors.vm_not_found),
        ErrorCode::MethodNotAllowed => tr!(locale, errors.method_not_allowed),
        ErrorCode::IsoNotFound => tr!(locale, errors.iso_not_found),
        ErrorCode::ImageNotFound => tr!(locale, errors.image_not_found),
        ErrorCode::SnapshotNotFound => tr!(locale, errors.snapshot_not_found),
        ErrorCode::VmAlreadyExists => tr!(locale, errors.vm_already_exists),
        ErrorCode::HostNotFound => tr!(locale, errors.host_not_found),
        ErrorCode::HostAlreadyExists => tr!(locale, errors.host_already_exists),
        ErrorCode::HostInUse => tr!(locale, errors.host_in_use),
        ErrorCode::UserAlreadyExists => tr!(locale, errors.user_already_exists),
        ErrorCode::MediaAlreadyExists => tr!(locale, errors.media_already_exists),
        ErrorCode::MediaInUse => tr!(locale, errors.media_in_use),
        ErrorCode::SnapshotAlreadyExists => tr!(locale, errors.snapshot_already_exists),
        ErrorCode::SnapshotLimitReached => tr!(locale, errors.snapshot_limit_reached),
        ErrorCode::NotAnIso => tr!(locale, errors.not_an_iso),
        ErrorCode::InsufficientStorage => tr!(locale, errors.insufficient_storage),
        ErrorCode::InvalidState => tr!(locale, errors.invalid_state),
        ErrorCode::PayloadTooLarge => tr!(locale, errors.payload_too_large),
        ErrorCode::UnsupportedMediaType => tr!(locale, errors.unsupported_media_type),
        ErrorCode::RateLimited => tr!(locale, errors.rate_limited),
        ErrorCode::VmCreationFailed => tr!(locale, errors.vm_creation_failed),
        ErrorCode::VmStartFailed => tr!(locale, errors.vm_start_failed),
        ErrorCode::VmNotRunning => tr!(locale, errors.vm_not_running),
        ErrorCode::VncUnavailable => tr!(locale, errors.vnc_unavailable),
        ErrorCode::SerialUnavailable => tr!(locale, errors.serial_unavailable),
        ErrorCode::UpgradeRequired => tr!(locale, errors.upgrade_required),
        ErrorCode::Internal => tr!(locale, errors.internal),
        ErrorCode::HypervisorUnavailable => tr!(locale, errors.hypervisor_unavailable),
        ErrorCode::DatabaseUnavailable => tr!(locale, errors.database_unavailable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_language_keeps_the_api_sentence() {
        let error = AppError::new(
            ErrorCode::VmAlreadyExists,
            "A VM named \"web\" already exists.",
        );
        assert_eq!(error_sentence(Locale::en, &error), error.message);
        assert_eq!(
            error_sentence(Locale::ko, &error),
            code_sentence(Locale::ko, ErrorCode::VmAlreadyExists)
        );
        assert!(error_sentence(Locale::ko, &error).contains("가상 머신"));
    }
}
