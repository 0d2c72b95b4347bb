//! `limen doctor` finds each failure it claims to detect — each one made to happen here — and
//! `/readyz` answers with the same checks in words.

mod common;

use std::time::Duration;

use common::process::{free_port, limen, output_of, wait_exit};
use common::{test_config, TempDir, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::Value;
use server::doctor::{self, Report, Status};

fn status_of<'a>(report: &'a Report, name: &str) -> &'a doctor::Check {
    report
        .checks
        .iter()
        .find(|check| check.name == name)
        .unwrap_or_else(|| panic!("no {name} check in {report:#?}"))
}

fn data_dir_with_subdirs() -> TempDir {
    let dir = TempDir::new();
    for sub in ["disks", "isos", "images"] {
        std::fs::create_dir_all(dir.0.join(sub)).unwrap();
    }
    dir
}

#[tokio::test]
async fn a_healthy_configuration_passes_every_check() {
    let db = TestDb::new();
    let data_dir = data_dir_with_subdirs();
    let config = test_config(&db.url, &data_dir, "test:///default");
    let report = doctor::run(&config).await;
    for check in &report.checks {
        assert_ne!(check.status, Status::Failed, "{check:#?}");
    }
    assert!(report.ok);
    assert_eq!(
        status_of(&report, "libvirt").summary,
        "libvirt answers: driver TEST"
    );
    for name in [
        "libvirt",
        "kvm",
        "data_dir",
        "disk_space",
        "database",
        "clock",
        "listen",
        "certificate",
    ] {
        status_of(&report, name);
    }
}

#[tokio::test]
async fn a_stopped_database_a_wrong_libvirt_uri_and_a_missing_data_dir_are_each_named() {
    let data_dir = TempDir::new();
    // Nothing listens on port 1 (a stopped PostgreSQL answers the same way: refused).
    let mut config = test_config(
        "postgres://limen:hunter2@127.0.0.1:1/limen",
        &data_dir,
        "bogus:///nowhere",
    );
    config.data_dir = data_dir.0.join("not-there");
    let report = doctor::run(&config).await;
    assert!(!report.ok);

    let database = status_of(&report, "database");
    assert_eq!(database.status, Status::Failed);
    assert!(
        database.summary.contains("does not accept connections"),
        "{database:?}"
    );
    assert!(database.advice.as_deref().unwrap().contains("start it"));
    let shown = serde_json::to_string(&report).unwrap();
    assert!(
        !shown.contains("hunter2"),
        "the password is never shown: {shown}"
    );

    let libvirt = status_of(&report, "libvirt");
    assert_eq!(libvirt.status, Status::Failed);
    assert_eq!(
        libvirt.summary,
        "libvirt has no driver for the configured URI"
    );

    let dir = status_of(&report, "data_dir");
    assert_eq!(dir.status, Status::Failed);
    assert!(dir.summary.contains("missing"), "{dir:?}");
}

#[tokio::test]
async fn a_data_dir_qemu_cannot_pass_through_is_named_with_the_chmod_that_fixes_it() {
    let db = TestDb::new();
    let data_dir = data_dir_with_subdirs();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&data_dir.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    // The local QEMU driver's URI: the check is about its user (libvirt-qemu).
    let config = test_config(&db.url, &data_dir, "qemu:///system");
    let report = doctor::run(&config).await;
    let check = status_of(&report, "data_dir");
    assert_eq!(check.status, Status::Failed, "{check:#?}");
    assert!(
        check.summary.contains("cannot reach the VMs' files"),
        "{check:?}"
    );
    assert_eq!(
        check.advice.as_deref(),
        Some(format!("chmod o+x {}", data_dir.0.display()).as_str())
    );
    // What the advice says is enough: after it, QEMU can pass. (The temporary directory's own
    // parents are traversable.)
    std::fs::set_permissions(&data_dir.0, std::fs::Permissions::from_mode(0o711)).unwrap();
    let report = doctor::run(&config).await;
    assert_eq!(status_of(&report, "data_dir").status, Status::Ok);
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_limen_is_refused_naming_both_releases() {
    let db = TestDb::new();
    db.execute(
        "INSERT INTO __diesel_schema_migrations (version) VALUES ('29991231000001'); \
         INSERT INTO limen_release (version) VALUES ('9.9.9') \
           ON CONFLICT (singleton) DO UPDATE SET version = '9.9.9';",
    );
    let data_dir = data_dir_with_subdirs();
    let config = test_config(&db.url, &data_dir, "test:///default");
    let report = doctor::run(&config).await;
    let check = status_of(&report, "database");
    assert_eq!(check.status, Status::Failed);
    assert_eq!(check.summary, "the database is newer than this binary");
    let detail = check.detail.as_deref().unwrap();
    assert!(detail.contains("Limen 9.9.9"), "{detail}");
    assert!(
        detail.contains(&format!("Limen {}", env!("CARGO_PKG_VERSION"))),
        "{detail}"
    );

    // The server refuses to start on it, in the same words, and touches nothing.
    let mut serve = limen(&db.url, &data_dir, "test:///default", free_port())
        .arg("serve")
        .spawn()
        .unwrap();
    assert!(!wait_exit(&mut serve, Duration::from_secs(30)).success());
    let log = output_of(&data_dir);
    assert!(log.contains("migrated by Limen 9.9.9"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn the_command_exits_1_on_a_failure_and_speaks_json_for_scripts() {
    let data_dir = TempDir::new();
    let output = limen(
        "postgres://limen:x@127.0.0.1:1/none",
        &data_dir,
        "test:///default",
        free_port(),
    )
    .args(["doctor", "--json"])
    .stdout(std::process::Stdio::piped())
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "failed")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"database"), "{report}");
    assert!(failed.contains(&"data_dir"), "{report}");
}

#[tokio::test]
async fn readyz_says_in_words_which_check_failed_without_paths() {
    let app = TestApp::spawn().await;
    let body: Value = app.get_json("/readyz").await;
    let names: Vec<&str> = body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["database", "libvirt", "data_dir", "disk_space"]);

    // The data dir goes away under the running server.
    std::fs::remove_dir_all(app.data_dir.0.join("isos")).unwrap();
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "HOST_NOT_READY");
    let error = body["error"].as_str().unwrap();
    assert!(error.contains("a data directory is missing"), "{error}");
    let text = body.to_string();
    assert!(
        !text.contains(&app.data_dir.0.display().to_string()),
        "no path for anonymous callers: {text}"
    );
}
