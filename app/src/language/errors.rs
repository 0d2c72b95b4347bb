//! An error as the dashboard shows it. The API's `error` sentence is English and stays so (scripts
//! read it); in another language the dashboard says the error's `code` in that language instead.

use crate::error::{AppError, ErrorCode};
use crate::i18n::{td_string, Locale};

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
        ErrorCode::ValidationFailed => td_string!(locale, errors.validation_failed),
        ErrorCode::Unauthorized => td_string!(locale, errors.unauthorized),
        ErrorCode::Forbidden => td_string!(locale, errors.forbidden),
        ErrorCode::QuotaExceeded => td_string!(locale, errors.quota_exceeded),
        ErrorCode::NotFound => td_string!(locale, errors.not_found),
        ErrorCode::VmNotFound => td_string!(locale, errors.vm_not_found),
        ErrorCode::MethodNotAllowed => td_string!(locale, errors.method_not_allowed),
        ErrorCode::IsoNotFound => td_string!(locale, errors.iso_not_found),
        ErrorCode::ImageNotFound => td_string!(locale, errors.image_not_found),
        ErrorCode::SnapshotNotFound => td_string!(locale, errors.snapshot_not_found),
        ErrorCode::VmAlreadyExists => td_string!(locale, errors.vm_already_exists),
        ErrorCode::UserAlreadyExists => td_string!(locale, errors.user_already_exists),
        ErrorCode::MediaAlreadyExists => td_string!(locale, errors.media_already_exists),
        ErrorCode::MediaInUse => td_string!(locale, errors.media_in_use),
        ErrorCode::SnapshotAlreadyExists => td_string!(locale, errors.snapshot_already_exists),
        ErrorCode::SnapshotLimitReached => td_string!(locale, errors.snapshot_limit_reached),
        ErrorCode::NotAnIso => td_string!(locale, errors.not_an_iso),
        ErrorCode::InsufficientStorage => td_string!(locale, errors.insufficient_storage),
        ErrorCode::InvalidState => td_string!(locale, errors.invalid_state),
        ErrorCode::PayloadTooLarge => td_string!(locale, errors.payload_too_large),
        ErrorCode::UnsupportedMediaType => td_string!(locale, errors.unsupported_media_type),
        ErrorCode::RateLimited => td_string!(locale, errors.rate_limited),
        ErrorCode::VmCreationFailed => td_string!(locale, errors.vm_creation_failed),
        ErrorCode::VmStartFailed => td_string!(locale, errors.vm_start_failed),
        ErrorCode::VmNotRunning => td_string!(locale, errors.vm_not_running),
        ErrorCode::VncUnavailable => td_string!(locale, errors.vnc_unavailable),
        ErrorCode::SerialUnavailable => td_string!(locale, errors.serial_unavailable),
        ErrorCode::UpgradeRequired => td_string!(locale, errors.upgrade_required),
        ErrorCode::Internal => td_string!(locale, errors.internal),
        ErrorCode::HypervisorUnavailable => td_string!(locale, errors.hypervisor_unavailable),
        ErrorCode::DatabaseUnavailable => td_string!(locale, errors.database_unavailable),
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
