//! The language a page is shown in, and what depends on it besides the translation files
//! (`app/locales/<language>/<part>.json`, compiled into the generated `crate::i18n`):
//!
//! - which language a request gets (here): the user's stored choice, else the `limen_language`
//!   cookie (the login page's choice), else `Accept-Language`, else English;
//! - `format.rs`: dates, numbers and sizes as the language writes them;
//! - `errors.rs`: an error's code as a sentence in the language;
//! - `labels.rs`: the words for states and actions.
//!
//! A page's language is fixed for the page's life: choosing another stores the choice and loads
//! the page again, so the server renders it whole in the new language and nothing of the old one
//! is left (and no text needs to be reactive, which keeps the WASM small). The language is
//! matched on the server only; the WASM reads the server's choice back from `<html lang>`.

mod errors;
mod format;
mod labels;

pub use errors::error_sentence;
pub use format::{format_count, format_time, format_time_seconds, size_words};
pub use labels::Label;

pub use crate::i18n::Locale;

/// A text of the page's language: `tr!(locale, part.key)` is the `&'static str` of a plain text;
/// `tr!(locale, part.key, name = value, other)` fills the text's `{name}` and `{other}` with
/// values (`other` alone: the variable of that name) and is a `String`. A key no translation
/// file has fails the build (the function `crate::i18n::part::key` does not exist).
#[macro_export]
macro_rules! tr {
    ($locale:expr, $part:ident . $key:ident $(,)?) => {
        $crate::i18n::$part::$key($locale)
    };
    ($locale:expr, $part:ident . $key:ident, $($rest:tt)+) => {
        $crate::language::fill(
            $crate::i18n::$part::$key($locale),
            &$crate::tr!(@values [] $($rest)+),
        )
    };
    (@values [$($done:tt)*] $name:ident = $value:expr, $($rest:tt)*) => {
        $crate::tr!(@values [$($done)* (stringify!($name), &$value as &dyn ::core::fmt::Display),] $($rest)*)
    };
    (@values [$($done:tt)*] $name:ident = $value:expr) => {
        [$($done)* (stringify!($name), &$value as &dyn ::core::fmt::Display)]
    };
    (@values [$($done:tt)*] $name:ident, $($rest:tt)*) => {
        $crate::tr!(@values [$($done)* (stringify!($name), &$name as &dyn ::core::fmt::Display),] $($rest)*)
    };
    (@values [$($done:tt)*] $name:ident) => {
        [$($done)* (stringify!($name), &$name as &dyn ::core::fmt::Display)]
    };
    (@values [$($done:tt)*]) => {
        [$($done)*]
    };
}

/// `template` with each `{name}` replaced by its value. A `{name}` without a value stays as it
/// is (the translation tests and the Korean page scan would show it); `{` alone is text.
pub fn fill(template: &str, values: &[(&str, &dyn std::fmt::Display)]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(template.len() + 16 * values.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            let (_, value) = values.iter().find(|(n, _)| *n == name)?;
            Some((close, value))
        });
        match value {
            Some((close, value)) => {
                let _ = write!(out, "{value}");
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The cookie that carries a browser's language choice (set by the server when the language is
/// chosen and at login).
pub const LANGUAGE_COOKIE: &str = "limen_language";

/// The page's language, as `App` provided it.
#[derive(Debug, Clone, Copy)]
struct PageLocale(Locale);

/// Works out the page's language (see [`resolve`]) and provides it to every component.
pub fn provide_locale() -> Locale {
    let locale = resolve();
    leptos::prelude::provide_context(PageLocale(locale));
    locale
}

/// The language of the page being rendered.
pub fn use_locale() -> Locale {
    leptos::prelude::use_context::<PageLocale>()
        .map(|page| page.0)
        .unwrap_or_default()
}

/// The page's language. On the server: [`for_request`]. In the
/// browser: the one the server wrote into `<html lang>` (no language matching in the WASM: the
/// locale parser it takes would weigh more than all the translations).
pub fn resolve() -> Locale {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>()
            .map(|parts| for_request(&parts))
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        leptos::prelude::document()
            .document_element()
            .and_then(|html| html.get_attribute("lang"))
            .and_then(|lang| from_code(&lang))
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        Locale::default()
    }
}

/// An `Accept-Language` value's language ranges, most preferred first (by `q`, then by order);
/// ranges with `q=0` are refused ones.
pub fn preferred(accept_language: &str) -> Vec<String> {
    // A browser sends a handful; a header of thousands is not worth sorting.
    const MOST: usize = 32;
    let mut ranges: Vec<(f32, &str)> = crate::headers::weighted(accept_language)
        .take(MOST)
        .filter(|(range, weight)| !range.is_empty() && *weight > 0.0)
        .map(|(range, weight)| (weight, range))
        .collect();
    // Stable: of equal weights, the one sent first stays first.
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranges
        .into_iter()
        .map(|(_, range)| range.to_string())
        .collect()
}

/// Every language the dashboard speaks, the default first.
pub fn all_languages() -> &'static [Locale] {
    Locale::ALL
}

/// A language's code (`en`, `ko`): what the API, the cookie and `<html lang>` say.
pub fn code(locale: Locale) -> &'static str {
    locale.code()
}

/// The language with this code, if the dashboard speaks it.
pub fn from_code(code: &str) -> Option<Locale> {
    Locale::ALL
        .iter()
        .copied()
        .find(|locale| locale.code() == code)
}

/// The language for a browser's language ranges (most preferred first): the first range that is
/// a language's code or a regional form of it (`ko-KR` → `ko`), case aside; `*` or nothing
/// known: the default.
pub fn best_match(ranges: &[String]) -> Locale {
    ranges
        .iter()
        .find_map(|range| {
            let primary = range.split('-').next().unwrap_or_default();
            Locale::ALL.iter().copied().find(|locale| {
                range.eq_ignore_ascii_case(locale.code())
                    || primary.eq_ignore_ascii_case(locale.code())
            })
        })
        .unwrap_or_default()
}

/// The language the server renders a request in: the logged-in user's stored choice, else the
/// cookie's, else the best match for the browser's `Accept-Language`, else the default. A
/// choice the dashboard does not speak (an old cookie, a removed language) is passed over.
#[cfg(feature = "ssr")]
pub fn for_request(parts: &http::request::Parts) -> Locale {
    let stored = parts
        .extensions
        .get::<crate::auth::Principal>()
        .and_then(|principal| principal.language.as_deref())
        .and_then(from_code);
    stored
        .or_else(|| crate::headers::cookie(&parts.headers, LANGUAGE_COOKIE).and_then(from_code))
        .unwrap_or_else(|| {
            let accepted = parts
                .headers
                .get(http::header::ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            best_match(&preferred(accepted))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for &locale in all_languages() {
            assert_eq!(from_code(code(locale)), Some(locale));
        }
        assert_eq!(all_languages()[0], Locale::default());
        assert_eq!(code(Locale::default()), "en");
        assert_eq!(from_code("ko"), Some(Locale::ko));
        assert_eq!(from_code("xx"), None);
        assert_eq!(from_code("../en"), None);
    }

    #[test]
    fn values_fill_their_places() {
        assert_eq!(fill("Delete {name}?", &[("name", &"web")]), "Delete web?");
        assert_eq!(fill("{a}{b}{a}", &[("a", &1), ("b", &"x")]), "1x1");
        assert_eq!(fill("{missing} {", &[("a", &1)]), "{missing} {");
        assert_eq!(fill("가상 머신 {n}개", &[("n", &3)]), "가상 머신 3개");
        let name = "db";
        assert_eq!(
            crate::tr!(Locale::en, common.whoami, username = name, role = "admin"),
            "db (admin)"
        );
        let username = "db";
        let role = "user";
        assert_eq!(
            crate::tr!(Locale::ko, common.whoami, username, role),
            "db (user)"
        );
    }

    #[test]
    fn accept_language_is_ordered_by_quality() {
        assert_eq!(
            preferred("ko-KR,ko;q=0.9,en-US;q=0.8"),
            ["ko-KR", "ko", "en-US"]
        );
        assert_eq!(preferred("en;q=0.5, ko"), ["ko", "en"]);
        assert_eq!(preferred("ko;q=0, en"), ["en"]);
        assert_eq!(preferred(""), Vec::<String>::new());
        assert_eq!(preferred("ko;q=bogus, en"), ["en"]);
        assert_eq!(preferred("ko;Q=0, en"), ["en"]);
        assert_eq!(preferred("ko; q = 0.2, en;q=0.3"), ["en", "ko"]);
        assert_eq!(preferred(&"x,".repeat(100_000)).len(), 32);
    }

    #[test]
    fn the_best_language_is_chosen() {
        let best = |header: &str| best_match(&preferred(header));
        assert_eq!(best("ko-KR,ko;q=0.9,en-US;q=0.8"), Locale::ko);
        assert_eq!(best("en-US,ko;q=0.5"), Locale::en);
        assert_eq!(best("fr-FR,de"), Locale::en);
        assert_eq!(best("fr, ko;q=0.3"), Locale::ko);
        assert_eq!(best(""), Locale::en);
        assert_eq!(best("KO-kr"), Locale::ko);
        assert_eq!(best("*"), Locale::en);
        assert_eq!(
            best("kok, ko"),
            Locale::ko,
            "a prefix of letters is not a language"
        );
    }
}
