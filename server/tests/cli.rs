//! The `limen` binary itself: its CLI, start-up and shutdown.

mod common;

use std::process::Command;
use std::time::Duration;

use common::process::{free_port, limen, output_of, terminate, wait_exit, wait_ready};
use common::{TempDir, TestDb};
use diesel::RunQueryDsl;

#[test]
fn help_names_every_subcommand() {
    let output = Command::new(env!("CARGO_BIN_EXE_limen"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for word in ["serve", "migrate", "reconcile", "--config"] {
        assert!(text.contains(word), "{word} missing from:\n{text}");
    }
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

    // An open event stream does not hold the shutdown up: it is ended cleanly.
    let mut events =
        reqwest::blocking::get(format!("http://127.0.0.1:{port}/api/v1/events")).unwrap();
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
