//! The translation files against each other and against the code: every language has every
//! part and every key of the default language (and nothing else), with the same `{values}`
//! and no empty text, and every key is used somewhere in the dashboard's code. (A key the code
//! names that no file has already fails the build.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const DEFAULT_LANGUAGE: &str = "en";

fn locales() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("locales")
}

/// `part.key` → text, for one language (nested objects flattened with dots).
fn translations(language: &str) -> BTreeMap<String, String> {
    fn flatten(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    flatten(&format!("{prefix}.{key}"), value, out);
                }
            }
            serde_json::Value::String(text) => {
                out.insert(prefix.to_string(), text.clone());
            }
            other => panic!("{prefix}: a translation is text, not {other}"),
        }
    }
    let mut out = BTreeMap::new();
    let dir = locales().join(language);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(
            path.extension().and_then(|e| e.to_str()),
            Some("json"),
            "{} holds only translation files",
            dir.display()
        );
        let part = path.file_stem().unwrap().to_str().unwrap().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        flatten(&part, &value, &mut out);
    }
    out
}

fn languages() -> Vec<String> {
    let mut languages: Vec<String> = std::fs::read_dir(locales())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .map(|path| path.file_name().unwrap().to_str().unwrap().to_string())
        .collect();
    languages.sort();
    languages
}

/// The `{name}` values a text is filled with.
fn values(text: &str) -> BTreeSet<String> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.to_string())
        .filter(|name| !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect()
}

#[test]
fn every_language_has_every_key_and_nothing_else() {
    let default = translations(DEFAULT_LANGUAGE);
    assert!(default.len() > 100, "the default language has its keys");
    let languages = languages();
    assert!(
        languages.contains(&"ko".to_string()),
        "Korean is there: {languages:?}"
    );
    for language in &languages {
        let other = translations(language);
        let missing: Vec<_> = default.keys().filter(|k| !other.contains_key(*k)).collect();
        let extra: Vec<_> = other.keys().filter(|k| !default.contains_key(*k)).collect();
        assert!(missing.is_empty(), "{language} lacks {missing:?}");
        assert!(
            extra.is_empty(),
            "{language} has keys English does not: {extra:?}"
        );
        for (key, text) in &other {
            assert!(!text.trim().is_empty(), "{language}: {key} is empty");
            assert_eq!(
                values(text),
                values(&default[key]),
                "{language}: {key} interpolates other values than English"
            );
        }
    }
}

#[test]
fn korean_is_korean() {
    // A file copied from English and not translated passes the key check; this does not. Keys
    // whose text is the same in both (a unit, a language's own name, a pattern) are allowed.
    let english = translations(DEFAULT_LANGUAGE);
    let korean = translations("ko");
    let hangul = |text: &str| text.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c));
    let english_only: Vec<_> = korean
        .iter()
        .filter(|(key, text)| {
            !hangul(text)
                && *text == &english[*key]
                && text.chars().filter(|c| c.is_ascii_alphabetic()).count() > 12
        })
        .map(|(key, _)| key)
        .collect();
    assert!(
        english_only.is_empty(),
        "left in English in ko/: {english_only:?}"
    );
}

/// The product code of every `.rs` file under `dir`: comment lines and test modules left out.
fn sources(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            // What the product uses: a key named only by a test or a comment does not count.
            let product = text.split("#[cfg(test)]\nmod tests").next().unwrap();
            for line in product.lines() {
                let line = line.trim_start();
                if !line.starts_with("//") {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
    }
}

#[test]
fn every_key_is_used() {
    let mut code = String::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut code,
    );
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let used = |key: &str| {
        let (part, rest) = key.split_once('.').unwrap();
        [format!("{part}.{rest}"), format!("{part}::{rest}")]
            .iter()
            .any(|needle| {
                code.match_indices(needle.as_str()).any(|(at, _)| {
                    let before = code[..at].chars().next_back();
                    let after = code[at + needle.len()..].chars().next();
                    !before.is_some_and(is_name) && !after.is_some_and(is_name)
                })
            })
    };
    let unused: Vec<_> = translations(DEFAULT_LANGUAGE)
        .into_keys()
        .filter(|key| !used(key))
        .collect();
    assert!(unused.is_empty(), "keys no code uses: {unused:?}");
}
