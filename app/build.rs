//! Generates the `i18n` module from the translation files in `locales/`: one directory per
//! language (`en` is the default and the API's own language), one JSON file per part of the
//! dashboard in each. A language is added by adding its directory: the languages and the parts
//! are read from the tree, not listed here. A `td_string!` naming a key no file has fails the
//! build; `tests/translations.rs` fails on a key missing from a language or used nowhere.
use leptos_i18n_build::{Config, ParseOptions, TranslationsInfos};
use std::error::Error;
use std::path::{Path, PathBuf};

const DEFAULT_LANGUAGE: &str = "en";

/// The names of `dir`'s entries that `keep` accepts, sorted (the generated code is stable).
fn names(
    dir: &Path,
    keep: impl Fn(&Path) -> Option<String>,
) -> Result<Vec<String>, Box<dyn Error>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        if let Some(name) = keep(&entry?.path()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-changed=build.rs");
    // A new language directory or a new file re-runs this (files' contents are watched below).
    println!("cargo::rerun-if-changed=locales");
    let locales = Path::new("locales");
    let languages = names(locales, |path| {
        path.is_dir()
            .then(|| path.file_name()?.to_str().map(str::to_string))
            .flatten()
    })?;
    let parts = names(&locales.join(DEFAULT_LANGUAGE), |path| {
        (path.extension()? == "json").then(|| path.file_stem()?.to_str().map(str::to_string))?
    })?;
    for language in &languages {
        println!("cargo::rerun-if-changed=locales/{language}");
    }

    let mut config = Config::new(DEFAULT_LANGUAGE)?;
    for language in languages.iter().filter(|l| *l != DEFAULT_LANGUAGE) {
        config = config.add_locale(language)?;
    }
    // `td_string!` with values (a name in a sentence) needs the Display code.
    let config = config
        .add_namespaces(parts)?
        .parse_options(ParseOptions::default().interpolate_display(true));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("no OUT_DIR")?).join("i18n");
    let translations = TranslationsInfos::parse(config)?;
    translations.emit_diagnostics();
    translations.rerun_if_locales_changed();
    translations.generate_i18n_module(out)?;
    Ok(())
}
