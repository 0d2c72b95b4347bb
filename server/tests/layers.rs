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
        "console",
        "console sessions: a WebSocket relayed to a VM's console",
    ),
    (
        "background",
        "monitors and the periodic reconciler, started by `serve` only",
    ),
    (
        "doctor",
        "the host's checks in words (limen doctor, /readyz)",
    ),
    (
        "backup",
        "limen backup / restore: the database and the domain definitions",
    ),
    ("service", "the VM service: who may do what, now; audit"),
    (
        "auth",
        "the accounts service, and the HTTP side of credentials",
    ),
    ("reconcile", "hypervisor vs database vs disks"),
    ("ops", "sagas and their runner"),
    (
        "recorded",
        "the writer of what users decide about a VM (role, installation, disk size)",
    ),
    ("observed", "the one writer of observed state"),
    ("context", "what the layers below the edge work with"),
    ("live", "the event bus, the list cache, the streams"),
    (
        "stats",
        "resource statistics: rates, the last hour in memory, the stored minutes",
    ),
    ("audit", "the audit log"),
    ("access", "who may see which VM"),
    ("keyed_locks", "locks by key"),
    ("error", "layer errors → the wire error"),
    ("db", "PostgreSQL"),
    ("host", "libvirt, disks, libraries"),
    (
        "tls",
        "HTTPS: the certificate and the listener that also redirects plain HTTP",
    ),
    ("config", "settings"),
    (
        "metrics",
        "Limen's own Prometheus counters, counted where things happen",
    ),
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

/// The text without comments (`//…` and `/* … */`).
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            let end = after.find('\n').unwrap_or(after.len());
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix("/*") {
            let end = after.find("*/").map_or(after.len(), |end| end + 2);
            // Keep the line count.
            out.extend(after[..end].chars().filter(|c| *c == '\n'));
            rest = &after[end..];
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The text up to its unit tests (`#[cfg(test)]` then `mod …`), which may look anywhere.
fn without_unit_tests(text: &str) -> &str {
    let mut from = 0;
    while let Some(at) = text[from..].find("#[cfg(test)]") {
        let start = from + at;
        let after = text[start + "#[cfg(test)]".len()..].trim_start();
        if after.starts_with("mod ") {
            return &text[..start];
        }
        from = start + 1;
    }
    text
}

fn ident_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The first name of every item of a `{a::b, c, d::{e}}` group (`text` starts after `{`).
fn group_heads(text: &str) -> Vec<String> {
    let (mut depth, mut heads, mut item_start) = (1, Vec::new(), 0);
    for (at, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                let head = ident_at(text[item_start..at].trim_start());
                if !head.is_empty() {
                    heads.push(head);
                }
                item_start = at + 1;
                if c == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
    }
    heads
}

/// Top-level modules a file refers to (outside its unit tests), with line numbers: through
/// `crate::…` (groups included, over several lines) and through `super::` chains that climb
/// out of the file's own top-level module. `module_path` is the file's module path
/// (`["service", "create"]`).
fn references(text: &str, module_path: &[String]) -> Vec<(usize, String)> {
    let code = without_comments(text);
    let code = without_unit_tests(&code);
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        let after = &code[start + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            found.extend(
                group_heads(group)
                    .into_iter()
                    .map(|head| (line_of(start), head)),
            );
        } else {
            let head = ident_at(after);
            if !head.is_empty() {
                found.push((line_of(start), head));
            }
        }
        from = start + 1;
    }
    from = 0;
    while let Some(at) = code[from..].find("super::") {
        let start = from + at;
        // A whole chain counts once, from its first `super`.
        let preceded = code[..start].ends_with("super::");
        from = start + 1;
        if preceded {
            continue;
        }
        let mut rest = &code[start..];
        let mut climbs = 0;
        while let Some(after) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = after;
        }
        if climbs >= module_path.len() {
            let head = ident_at(rest);
            if !head.is_empty() {
                found.push((line_of(start), head));
            }
        }
    }
    found
}

/// The module path of a file under `src` (`service/mod.rs` → `["service"]`).
fn module_path_of(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).unwrap().with_extension("");
    let mut path: Vec<String> = relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    path
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
        for (line, target) in references(&text, &module_path_of(file)) {
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

/// The check itself: what it finds, and what it leaves alone.
#[test]
fn the_check_finds_every_way_of_naming_a_module() {
    let names = |text: &str, path: &[&str]| -> Vec<String> {
        let path: Vec<String> = path.iter().map(|part| part.to_string()).collect();
        references(text, &path)
            .into_iter()
            .map(|(_, name)| name)
            .collect()
    };
    let text =
        "use crate::db::vms;\nuse crate::{service, host::Host};\n// crate::api in a comment\n";
    assert_eq!(names(text, &["ops"]), ["db", "service", "host"]);
    // rustfmt's multi-line groups, nested groups, block comments.
    let text = "use crate::{\n    context::Context,\n    db::{vms, users},\n    /* crate::web */ live,\n};\n";
    assert_eq!(names(text, &["ops"]), ["context", "db", "live"]);
    // Unit tests may look anywhere; code after them does not exist.
    let text = "use crate::db;\n#[cfg(test)]\nmod tests {\n    use crate::api;\n}\n";
    assert_eq!(names(text, &["ops"]), ["db"]);
    // `super` climbing out of the top-level module names another one; inside it, nothing.
    let text = "use super::super::service::VmService;\nuse super::Saga;\n";
    assert_eq!(names(text, &["ops", "vm_create"]), ["service"]);
    assert!(names("use super::records;\n", &["service", "create"]).is_empty());
    // The lines are right.
    let text = "\n\nuse crate::{\n  api,\n};\n";
    assert_eq!(references(text, &["db".to_string()])[0].0, 3);
}
