//! Upgrades: a database as an earlier release left it, with data in it, is migrated forward at
//! start (in one transaction) and everything in it is still there and usable.

mod common;

use common::{TestApp, TestDb};
use diesel::connection::SimpleConnection;
use serde_json::Value;
use server::db::migrations::{self, SchemaState};

/// The schema of the release before this one (issue 13's, the statistics): bump it when a
/// release ships.
const PREVIOUS_RELEASE_SCHEMA: &str = "20261130000008";
/// The first schema Limen ever shipped.
const FIRST_SCHEMA: &str = "20261122000001";

const VM: &str = "6f9d3a52-3c1e-4f0a-9a55-0d2c1e9a7b10";

fn database_at(schema: &str) -> TestDb {
    let db = TestDb::empty();
    let applied = migrations::migrate_to(&mut db.connect(), schema).unwrap();
    assert_eq!(applied.last().map(String::as_str), Some(schema));
    db
}

#[tokio::test]
async fn a_database_of_the_previous_release_with_data_in_it_is_upgraded_at_start() {
    let db = database_at(PREVIOUS_RELEASE_SCHEMA);
    db.connect()
        .batch_execute(&format!(
            "INSERT INTO users (username, password_hash, role) VALUES ('olduser', 'x', 'user');
             INSERT INTO quotas (username, max_vms) VALUES ('olduser', 2);
             INSERT INTO vms (uuid, name, owner, vcpus, memory_mib, disk_size_gb, disk_path,
                              installation_status, role, status)
                  VALUES ('{VM}', 'old-vm', 'olduser', 1, 64, 1, '/nonexistent/old-vm.qcow2',
                          'Installed', 'db', 'stopped');
             INSERT INTO snapshots (vm_uuid, name, created_by) VALUES ('{VM}', 'before', 'olduser');
             INSERT INTO audit_log (username, action, target, outcome)
                  VALUES ('olduser', 'vm.create', 'old-vm', 'success');
             INSERT INTO vm_stats (vm_uuid, minute, cpu_percent) VALUES ('{VM}', now(), 12.5);"
        ))
        .unwrap();
    let state = SchemaState::read(&mut db.connect()).unwrap();
    assert!(!state.pending.is_empty());
    assert!(state.ahead().is_none());

    // TestApp migrates as `limen serve` does.
    let app = TestApp::spawn_with(db, "test:///default").await;
    let after = SchemaState::read(&mut app.db.connect()).unwrap();
    assert!(after.pending.is_empty());
    assert_eq!(
        after.database_release.as_deref(),
        Some(env!("CARGO_PKG_VERSION"))
    );

    let vm: Value = app.get_json(&format!("/api/v1/vms/{VM}")).await;
    assert_eq!(vm["name"], "old-vm");
    assert_eq!(vm["owner"], "olduser");
    assert_eq!(vm["role"], "db");
    assert_eq!(vm["installation_status"], "Installed");
    // (Its domain is not on the test driver, so the API lists no snapshot; the record stays.)
    assert_eq!(
        app.db.count(
            "SELECT count(*) AS n FROM snapshots WHERE name = 'before' AND created_by = 'olduser'"
        ),
        1
    );
    let audit: Value = app.get_json("/api/v1/audit").await;
    assert!(audit.to_string().contains("old-vm"), "{audit}");
    assert_eq!(app.db.count("SELECT count(*) AS n FROM vm_stats"), 1);
}

#[tokio::test]
async fn the_first_schema_with_a_vm_in_it_comes_through_every_migration() {
    let db = database_at(FIRST_SCHEMA);
    db.connect()
        .batch_execute(&format!(
            "INSERT INTO vms (uuid, name, vcpus, memory_mib, disk_size_gb, disk_path, status)
                  VALUES ('{VM}', 'first-vm', 2, 128, 3, '/nonexistent/first-vm.qcow2', 'stopped');"
        ))
        .unwrap();
    let app = TestApp::spawn_with(db, "test:///default").await;
    let vm: Value = app.get_json(&format!("/api/v1/vms/{VM}")).await;
    assert_eq!(vm["name"], "first-vm");
    assert_eq!(vm["cpu"], 2);
    assert_eq!(vm["memory"], 128);
}

#[tokio::test]
async fn a_failing_migration_leaves_the_database_as_it_was() {
    // Two releases behind: the first pending migration works, the second cannot.
    let db = database_at("20261130000007");
    db.execute("CREATE TABLE limen_release (unrelated INTEGER)");
    let pool = server::db::Db::connect(&db.url).unwrap();
    let error = pool.migrate().await.unwrap_err();
    assert!(
        server::error::chain(&error).contains("already exists"),
        "{}",
        server::error::chain(&error)
    );
    let state = SchemaState::read(&mut db.connect()).unwrap();
    assert_eq!(
        state.database_schema.as_deref(),
        Some("20261130000007"),
        "all or nothing: the migration that worked is undone too"
    );
    assert_eq!(
        db.count("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'vm_stats'"),
        0
    );
}
