//! `limen backup` → wipe the database → `limen restore` → reconcile: every VM is back with its
//! owner, role, installation status and history, the users and audit log too; domains the host
//! lost are defined again; a backup taken while the server writes is consistent; a damaged or
//! cut-off archive, or a database that is not empty, is refused with nothing written.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use app::auth::{Quota, Role};
use common::{test_config, TempDir, TestApp, TestDb, ADMIN, PASSWORD};
use diesel::RunQueryDsl;
use serde_json::{json, Value};
use server::backup;
use server::db::Db;
use server::reconcile::Mode;

/// Every row of every table of `db`, as JSON text, sorted: two databases with the same rows
/// give the same list.
fn all_rows(db: &TestDb) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        row: String,
    }
    let mut rows = Vec::new();
    for table in [
        "users",
        "quotas",
        "sessions",
        "api_tokens",
        "vms",
        "operations",
        "snapshots",
        "audit_log",
        "vm_stats",
        "host_stats",
    ] {
        let found: Vec<Row> = diesel::sql_query(format!(
            "SELECT '{table}: ' || row_to_json(t)::text AS row FROM {table} t"
        ))
        .load(&mut db.connect())
        .unwrap();
        rows.extend(found.into_iter().map(|r| r.row));
    }
    rows.sort();
    rows
}

/// Serves the router on `db` (already restored: its admin can log in); returns its address.
async fn serve_restored(db: &TestDb, data_dir: &TempDir) -> (SocketAddr, server::state::AppState) {
    let config = test_config(&db.url, data_dir, "test:///default");
    let pool = Db::connect(&config.database_url).unwrap();
    let state = server::build_state(&config, pool).unwrap();
    server::load_hosts(&state, &config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = server::router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, state)
}

#[tokio::test]
async fn backup_wipe_restore_reconcile_brings_every_vm_back_with_its_owner_role_and_history() {
    let app = TestApp::spawn().await;
    let alice = app
        .user(
            "alice-bk",
            Role::User,
            Quota {
                max_vms: Some(3),
                ..Quota::default()
            },
        )
        .await;
    let mine = app.create_small_vm("bk-admin-vm").await;
    let hers: Value = alice
        .post(app.url("/api/v1/vms"))
        .json(&json!({"name": "bk-alice-vm", "cpu": 1, "memory": 64, "disk_size": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hers = hers["uuid"].as_str().unwrap().to_string();
    let role = app
        .client
        .put(app.url(&format!("/api/v1/vms/{mine}/role")))
        .json(&json!({"role": "web"}))
        .send()
        .await
        .unwrap();
    assert!(role.status().is_success(), "{}", role.text().await.unwrap());
    let installed = app
        .post_json(
            &format!("/api/v1/vms/{hers}/complete-installation"),
            json!({}),
        )
        .await;
    assert!(installed.status().is_success());
    let snapshot = app
        .post_json(
            &format!("/api/v1/vms/{mine}/snapshots"),
            json!({"name": "s1"}),
        )
        .await;
    assert!(
        snapshot.status().is_success(),
        "{}",
        snapshot.text().await.unwrap()
    );
    let before = all_rows(&app.db);

    let file = app.data_dir.0.join("limen.backup");
    let manifest = backup::create(&app.cx().db, &app.cx().hosts, &file)
        .await
        .unwrap();
    assert_eq!(manifest.format, backup::FORMAT);
    assert_eq!(manifest.domains.len(), 2);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "password hashes are in it: owner only");

    // The host lost one definition meanwhile (a reinstalled host, say).
    let lost = app.libvirt().lookup_domain_by_name("bk-admin-vm").unwrap();
    lost.undefine_flags(virt::sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
        .unwrap();

    // A new, empty database.
    let fresh = TestDb::empty();
    let pool = Db::connect(&fresh.url).unwrap();
    let report = backup::restore(&pool, &app.cx().hosts, &app.data_dir.0, &file)
        .await
        .unwrap();
    assert_eq!(report.domains_defined, ["bk-admin-vm"]);
    assert!(report.domains_failed.is_empty(), "{report:?}");
    // …with its snapshot, which libvirt knows of again.
    let names = app
        .host()
        .snapshot_names(mine.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(names.names, ["s1"]);
    assert_eq!(names.current.as_deref(), Some("s1"));
    assert_eq!(all_rows(&fresh), before, "every row is back as it was");

    // A reconcile on the restored database finds every record's domain.
    let data_dir = TempDir::new();
    let (addr, state) = serve_restored(&fresh, &data_dir).await;
    let reconciled = server::reconcile::reconcile(state.vms.sagas(), Mode::Repair)
        .await
        .unwrap();
    let text = serde_json::to_string(&reconciled).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["missing"], json!([]), "{text}");
    // (Other tests' domains on the shared test driver are ghosts here; ours are not.)
    for ghost in report["ghosts"].as_array().unwrap() {
        assert!(
            !["bk-admin-vm", "bk-alice-vm"].contains(&ghost["name"].as_str().unwrap()),
            "{text}"
        );
    }

    // The restored admin logs in with the old password and sees both VMs as they were.
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&json!({"username": ADMIN, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().expect("the restored admin logs in");
    let vms: Vec<Value> = client
        .get(format!("http://{addr}/api/v1/vms"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let by_name = |name: &str| vms.iter().find(|vm| vm["name"] == name).unwrap().clone();
    assert_eq!(by_name("bk-admin-vm")["role"], "web");
    assert_eq!(by_name("bk-alice-vm")["owner"], "alice-bk");
    assert_eq!(by_name("bk-alice-vm")["installation_status"], "Installed");
    assert_eq!(by_name("bk-admin-vm")["status"], "stopped");
    state.shutdown.cancel();

    // The restored database is not empty any more: a second restore is refused.
    let again = backup::restore(&pool, &app.cx().hosts, &app.data_dir.0, &file)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("not empty"), "{again}");
}

#[tokio::test]
async fn a_backup_taken_while_the_server_writes_is_one_consistent_picture() {
    let app = TestApp::spawn().await;
    // Many rows to read between the users and their sessions, so writes land in between.
    app.db.execute(
        "INSERT INTO api_tokens (id, username, name, token_hash) \
         SELECT gen_random_uuid(), 'admin', 'bulk', 'bulk-' || n FROM generate_series(1, 60000) n",
    );
    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let writing = Arc::clone(&writing);
        let mut conn = app.db.connect();
        std::thread::spawn(move || {
            let mut n = 0;
            while writing.load(Ordering::Relaxed) {
                n += 1;
                // A user and its session in one transaction, as a login after a sign-up would.
                diesel::connection::SimpleConnection::batch_execute(
                    &mut conn,
                    &format!(
                        "BEGIN; INSERT INTO users (username, password_hash, role) \
                         VALUES ('c-{n}', 'x', 'user'); \
                         INSERT INTO sessions (token_hash, username, expires_at) \
                         VALUES ('s-{n}', 'c-{n}', now() + interval '1 day'); COMMIT;"
                    ),
                )
                .unwrap();
            }
            n
        })
    };
    let file = app.data_dir.0.join("busy.backup");
    let manifest = backup::create(&app.cx().db, &app.cx().hosts, &file)
        .await
        .unwrap();
    writing.store(false, Ordering::Relaxed);
    let written = writer.join().unwrap();
    assert!(written > 0);

    let fresh = TestDb::empty();
    let pool = Db::connect(&fresh.url).unwrap();
    backup::restore(&pool, &app.cx().hosts, &app.data_dir.0, &file)
        .await
        .expect("a consistent picture loads with every foreign key intact");
    let users = fresh.count("SELECT count(*) AS n FROM users WHERE username LIKE 'c-%'");
    let sessions = fresh.count("SELECT count(*) AS n FROM sessions WHERE username LIKE 'c-%'");
    assert_eq!(users, sessions);
    let listed = manifest.tables.iter().find(|t| t.name == "users").unwrap();
    assert_eq!(
        fresh.count("SELECT count(*) AS n FROM users"),
        listed.rows as i64
    );
}

#[tokio::test]
async fn a_damaged_or_cut_off_archive_is_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    app.create_small_vm("bk-damaged").await;
    let file = app.data_dir.0.join("whole.backup");
    backup::create(&app.cx().db, &app.cx().hosts, &file)
        .await
        .unwrap();
    let bytes = std::fs::read(&file).unwrap();

    let cut = app.data_dir.0.join("cut.backup");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let junk = app.data_dir.0.join("junk.backup");
    std::fs::write(&junk, b"<html>not a backup</html>").unwrap();
    for (archive, words) in [(&cut, "cut off"), (&junk, "not a Limen backup")] {
        let fresh = TestDb::empty();
        let pool = Db::connect(&fresh.url).unwrap();
        let error = backup::restore(&pool, &app.cx().hosts, &app.data_dir.0, archive)
            .await
            .unwrap_err();
        assert!(error.to_string().contains(words), "{error}");
        assert_eq!(
            fresh.count("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'public'"),
            0,
            "nothing half-made"
        );
    }
}
