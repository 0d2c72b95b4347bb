//! The `limen` binary itself: its CLI, start-up and shutdown.

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::{free_port, limen, output_of, terminate, wait_exit, wait_ready};
use common::{TempDir, TestDb};
use diesel::RunQueryDsl;
use serde_json::{json, Value};

/// The setup token the server logged at start (no admin existed).
fn setup_token_in(log: &str) -> String {
    let line = log
        .lines()
        .find(|line| line.contains("one-time setup token"))
        .unwrap_or_else(|| panic!("no setup token in the log:\n{log}"));
    let after = line.split("setup token ").nth(1).unwrap();
    after.split_whitespace().next().unwrap().to_string()
}

#[test]
fn limen_user_add_makes_a_user_who_can_log_in() {
    let node = common::process::Node::new();
    let added = node.add_user("alice", false);
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&added.stdout).trim(),
        "created user alice"
    );
    let twice = node.add_user("alice", false);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("already exists"));
    let bad = node.add_user("../alice", false);
    assert!(!bad.status.success());

    let mut child = node.start(None);
    // An admin exists now (made by `client()`), so no setup token is offered.
    let admin = node.client();
    let log = output_of(&node.data_dir);
    let login = reqwest::blocking::Client::new()
        .post(node.url("/api/v1/auth/login"))
        .json(&json!({"username": "alice", "password": common::PASSWORD}))
        .send()
        .unwrap();
    assert_eq!(login.status(), 200);
    let me: Value = reqwest::blocking::Client::new()
        .get(node.url("/api/v1/me"))
        .bearer_auth(login.json::<Value>().unwrap()["token"].as_str().unwrap())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["role"], "user");
    let users: Vec<Value> = admin
        .get(node.url("/api/v1/users"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(users.len(), 2);
    assert!(
        log.contains("one-time setup token"),
        "no admin existed at start"
    );
    assert!(terminate(&mut child).success());
}

#[test]
fn help_names_every_subcommand() {
    let output = Command::new(env!("CARGO_BIN_EXE_limen"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for word in [
        "serve",
        "migrate",
        "reconcile",
        "user",
        "doctor",
        "backup",
        "restore",
        "--config",
        "--version",
    ] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
    let output = Command::new(env!("CARGO_BIN_EXE_limen"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("limen {}", env!("CARGO_PKG_VERSION"))
    );
    let output = Command::new(env!("CARGO_BIN_EXE_limen"))
        .args(["migrate", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
}

#[test]
fn migrate_then_serve_then_stop_gracefully_on_sigterm() {
    let db = TestDb::empty();
    let data_dir = TempDir::new();
    let port = free_port();

    let migrate = limen(&db.url, &data_dir, "test:///default", port)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert_eq!(db.count_vms(), 0, "the schema exists");

    let mut child = limen(&db.url, &data_dir, "test:///default", port)
        .arg("serve")
        .spawn()
        .unwrap();
    wait_ready(port, &mut child, &data_dir);

    // One server per database: a second is refused, saying why.
    let second = limen(&db.url, &data_dir, "test:///default", free_port())
        .arg("serve")
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(output_of(&data_dir).contains("another Limen server is already using this database"));

    // A fresh install has no admin: the log carries a one-time setup token, which creates the
    // first admin (logged in at once) and is then used up.
    let token = setup_token_in(&output_of(&data_dir));
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let client = reqwest::blocking::Client::new();
    let wrong = client
        .post(url("/api/v1/auth/setup"))
        .json(&json!({"setup_token": "guess", "username": "root", "password": "long enough"}))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 403);
    let setup = client
        .post(url("/api/v1/auth/setup"))
        .json(&json!({"setup_token": token, "username": "root", "password": "long enough"}))
        .send()
        .unwrap();
    assert_eq!(setup.status(), 201);
    let session: Value = setup.json().unwrap();
    assert_eq!(session["user"]["role"], "admin");
    let session_token = session["token"].as_str().unwrap().to_string();
    let again = client
        .post(url("/api/v1/auth/setup"))
        .json(&json!({"setup_token": token, "username": "root2", "password": "long enough"}))
        .send()
        .unwrap();
    assert_eq!(again.status(), 403, "the setup token is used up");

    // An open event stream does not hold the shutdown up: it is ended cleanly.
    let mut events = client
        .get(url("/api/v1/events"))
        .bearer_auth(&session_token)
        .send()
        .unwrap();
    assert_eq!(events.status(), 200);
    let mut first = [0u8; 64];
    let read = std::io::Read::read(&mut events, &mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..read]).contains("snapshot"));

    let status = terminate(&mut child);
    assert!(status.success(), "a SIGTERM is a clean exit, got {status}");
    assert!(output_of(&data_dir).contains("Limen stopped"));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut events, &mut rest).expect("the stream ended cleanly");
}

#[test]
fn a_failed_migration_stops_the_server_with_a_clear_message() {
    let db = TestDb::empty();
    // A table in the way of the first migration.
    diesel::sql_query("CREATE TABLE vms (unrelated INTEGER)")
        .execute(&mut db.connect())
        .unwrap();
    let data_dir = TempDir::new();
    let mut child = limen(&db.url, &data_dir, "test:///default", free_port())
        .arg("serve")
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert!(!status.success());
    let output = output_of(&data_dir);
    assert!(
        output.contains("applying database migrations failed"),
        "{output}"
    );
    assert!(
        output.contains("already exists"),
        "the cause is shown: {output}"
    );
}

#[test]
fn a_missing_database_setting_is_explained() {
    let output = Command::new(env!("CARGO_BIN_EXE_limen"))
        .env_clear()
        .env("LIMEN_CONFIG", "/dev/null")
        .arg("serve")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(text.contains("LIMEN_DATABASE_URL"), "{text}");
}
