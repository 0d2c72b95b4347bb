pub mod admin;
pub mod audit;
pub mod console;
pub mod dashboard;
pub mod host;
pub mod hosts;
pub mod login;
pub mod media;
pub mod not_found;
pub mod reconcile;
pub mod setup;
pub mod tokens;
pub mod users;
pub mod vm_detail;

use crate::i18n::Locale;
use crate::tr;

/// A full page load of `path` (browser only): after logging in or out the server renders the
/// next page with the new session, and the one event stream opens (or closes) with it.
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = leptos::prelude::window().location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Loads the current page again (browser only): after a language is chosen, the server renders
/// it in that language.
pub fn reload() {
    #[cfg(feature = "hydrate")]
    {
        let _ = leptos::prelude::window().location().reload();
    }
}

/// The browser's own "are you sure?" dialog; `false` outside a browser.
pub fn confirm(message: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        leptos::prelude::window()
            .confirm_with_message(message)
            .unwrap_or(false)
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = message;
        false
    }
}

/// Where to go after logging in: the `next` parameter when it is a path on this site, else `/`.
/// `//host` and `/\host` are other sites to a browser, so they are refused too.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(char::is_control) =>
        {
            path
        }
        _ => "/",
    }
}

/// An optional whole number typed in a form: empty is `None`. The error names `field` (as the
/// form shows it) in the page's language.
pub fn optional_number<T: std::str::FromStr>(
    locale: Locale,
    field: &str,
    raw: &str,
) -> Result<Option<T>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<T>()
        .map(Some)
        .map_err(|_| tr!(locale, admin.not_a_limit, field = field).to_string())
}

/// "used / limit", or "used / no limit" (in the page's language).
pub fn used_of<U: std::fmt::Display, L: std::fmt::Display>(
    locale: Locale,
    used: U,
    limit: Option<L>,
) -> String {
    match limit {
        Some(limit) => format!("{used} / {limit}"),
        None => format!("{used} / {}", tr!(locale, admin.no_limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(safe_next(None), "/");
        assert_eq!(safe_next(Some("")), "/");
        assert_eq!(safe_next(Some("/vms/1?x=2")), "/vms/1?x=2");
        assert_eq!(safe_next(Some("/")), "/");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("javascript:alert(1)")), "/");
        assert_eq!(safe_next(Some("/a\nb")), "/");
    }

    #[test]
    fn optional_numbers() {
        let english = Locale::en;
        assert_eq!(optional_number::<u32>(english, "Max VMs", " "), Ok(None));
        assert_eq!(
            optional_number::<u32>(english, "Max VMs", " 3 "),
            Ok(Some(3))
        );
        assert_eq!(
            optional_number::<u32>(english, "Max VMs", "-1"),
            Err("Max VMs must be a whole number, or empty for no limit.".to_string())
        );
        assert!(optional_number::<u64>(english, "Max disk", "1.5").is_err());
        let korean = optional_number::<u32>(Locale::ko, "최대 VM 수", "x").unwrap_err();
        assert!(korean.starts_with("최대 VM 수:"), "{korean}");
    }

    #[test]
    fn used_of_limits() {
        assert_eq!(used_of(Locale::en, 1, Some(2)), "1 / 2");
        assert_eq!(used_of(Locale::en, 1, None::<u32>), "1 / no limit");
        assert_eq!(used_of(Locale::ko, 1, None::<u32>), "1 / 제한 없음");
    }
}
