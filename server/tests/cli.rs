//! The `limen` binary itself: its CLI, start-up and shutdown.

mod common;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TempDir, TestDb};
use diesel::RunQueryDsl;

fn limen(db_url: &str, data_dir: &TempDir, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_limen"));
    command
        .env_clear()
        .env("LIMEN_CONFIG", "/dev/null")
        .env("LIMEN_DATABASE_URL", db_url)
        .env("LIMEN_LIBVIRT_URI", "test:///default")
        .env("LIMEN_DATA_DIR", &data_dir.0)
        .env("LIMEN_LISTEN", format!("127.0.0.1:{port}"))
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for the child to exit, up to `limit`; kills it and fails otherwise.
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("limen did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn output_of(child: &mut Child) -> String {
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn help_names_every_subcommand() {
    let output = Command::new(env!("CARGO_BIN_EXE_limen"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for word in ["serve", "migrate", "--config"] {
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

    let migrate = limen(&db.url, &data_dir, port)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert_eq!(db.count_vms(), 0, "the schema exists");

    let mut child = limen(&db.url, &data_dir, port)
        .arg("serve")
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let url = format!("http://127.0.0.1:{port}/readyz");
    loop {
        let ready = reqwest::blocking::get(&url)
            .map(|r| r.status().is_success())
            .unwrap_or(false);
        if ready {
            break;
        }
        assert!(Instant::now() < deadline, "limen never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_exit(&mut child, Duration::from_secs(10));
    assert!(status.success(), "a SIGTERM is a clean exit, got {status}");
    assert!(output_of(&mut child).contains("Limen stopped"));
}

#[test]
fn a_failed_migration_stops_the_server_with_a_clear_message() {
    let db = TestDb::empty();
    // A table in the way of the first migration.
    diesel::sql_query("CREATE TABLE vms (unrelated INTEGER)")
        .execute(&mut db.connect())
        .unwrap();
    let data_dir = TempDir::new();
    let mut child = limen(&db.url, &data_dir, free_port())
        .arg("serve")
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert!(!status.success());
    let output = output_of(&mut child);
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
