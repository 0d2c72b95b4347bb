pub mod admin;
pub mod audit;
pub mod console;
pub mod dashboard;
pub mod host;
pub mod login;
pub mod media;
pub mod not_found;
pub mod reconcile;
pub mod setup;
pub mod tokens;
pub mod users;
pub mod vm_detail;

use chrono::{DateTime, Utc};

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

/// A moment as the tables show it.
pub fn format_time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// An optional whole number typed in a form: empty is `None`.
pub fn optional_number<T: std::str::FromStr>(field: &str, raw: &str) -> Result<Option<T>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<T>()
        .map(Some)
        .map_err(|_| format!("{field} must be a whole number, or empty for no limit."))
}

/// "used / limit", or "used / no limit".
pub fn used_of<U: std::fmt::Display, L: std::fmt::Display>(used: U, limit: Option<L>) -> String {
    match limit {
        Some(limit) => format!("{used} / {limit}"),
        None => format!("{used} / no limit"),
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
        assert_eq!(optional_number::<u32>("Max VMs", " "), Ok(None));
        assert_eq!(optional_number::<u32>("Max VMs", " 3 "), Ok(Some(3)));
        assert!(optional_number::<u32>("Max VMs", "-1").is_err());
        assert!(optional_number::<u64>("Max disk", "1.5").is_err());
    }

    #[test]
    fn used_of_limits() {
        assert_eq!(used_of(1, Some(2)), "1 / 2");
        assert_eq!(used_of(1, None::<u32>), "1 / no limit");
    }
}
