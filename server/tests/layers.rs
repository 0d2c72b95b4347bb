//! The shape of `server/src` stays: every module imports only modules below it in the layer
//! order (handlers → service → operations / reconcile → observed state → context → host,
//! database, bus). A `use crate::x` (or a `crate::x::…` path) that points up fails here, with
//! the file and the line. Unit tests inside a module (`#[cfg(test)] mod tests`) may look
//! anywhere.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Top-level modules of `server/src`, from the top. A module may import modules of a lower
/// rank (a larger number) only.
const LAYERS: &[(&str, &str)] = &[
    ("cli", "the command line's definition"),
    (
        "web",
        "HTTP edge: the dashboard's pages and server functions",
    ),
    ("api", "HTTP edge: the REST handlers"),
    ("state", "what every handler can reach"),
    (
        "background",
        "monitors and the periodic reconciler, started by `serve` only",
    ),
    ("service", "the VM service: who may do what, now; audit"),
    (
        "auth",
        "the accounts service, and the HTTP side of credentials",
    ),
    ("reconcile", "hypervisor vs database vs disks"),
    ("ops", "sagas and their runner"),
    ("observed", "the one writer of observed state"),
    ("context", "what the layers below the edge work with"),
    ("live", "the event bus, the list cache, the streams"),
    ("audit", "the audit log"),
    ("access", "who may see which VM"),
    ("keyed_locks", "locks by key"),
    ("error", "layer errors → the wire error"),
    ("db", "PostgreSQL"),
    ("host", "libvirt, disks, libraries"),
    ("config", "settings"),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to (`None`: the crate roots).
fn module_of(file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src()).unwrap();
    let first = relative.components().next()?.as_os_str().to_string_lossy();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// `crate::NAME` references outside the file's unit tests, with their line numbers.
fn crate_references(text: &str) -> Vec<(usize, String)> {
    let code = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or_default();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((number + 1, name));
            }
            rest = after;
        }
        // `use crate::{a, b}` groups.
        if let Some(at) = line.find("crate::{") {
            let group = &line[at + "crate::{".len()..];
            for part in group.split([',', '}']) {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push((number + 1, name));
                }
            }
        }
    }
    found
}

#[test]
fn every_module_imports_only_modules_below_it() {
    let rank: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .map(|(index, (name, _))| (*name, index))
        .collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut upward = Vec::new();
    for file in &files {
        let Some(module) = module_of(file) else {
            continue;
        };
        let own = *rank.get(module.as_str()).unwrap_or_else(|| {
            panic!(
                "server/src/{module} is not in the layer order: add it to LAYERS in {}",
                file!()
            )
        });
        let text = std::fs::read_to_string(file).unwrap();
        for (line, target) in crate_references(&text) {
            if target == module {
                continue;
            }
            let Some(&theirs) = rank.get(target.as_str()) else {
                continue; // an item of the crate root (e.g. `crate::build_state`)
            };
            if theirs < own {
                upward.push(format!(
                    "{}:{line}: {module} ({}) imports {target} ({}), which is above it",
                    file.strip_prefix(src()).unwrap().display(),
                    LAYERS[own].1,
                    LAYERS[theirs].1,
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that point up:\n{}",
        upward.join("\n")
    );
}

/// The check itself: an upward import is found, a downward one is not.
#[test]
fn the_check_finds_an_upward_import() {
    let text = "use crate::db::vms;\nuse crate::{service, host};\n// crate::api in a comment\n";
    let found: Vec<String> = crate_references(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(found, ["db", "service", "host"]);
    let tests_only = "use crate::db;\n#[cfg(test)]\nmod tests {\n    use crate::api;\n}\n";
    let found: Vec<String> = crate_references(tests_only)
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(found, ["db"]);
}
