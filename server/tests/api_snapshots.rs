//! A VM's snapshots on libvirt's test driver: the API's shape, its rules (names, limits,
//! quota, what a VM in each state can have), hostile input and other users' VMs, the event
//! stream, snapshots made and deleted outside Limen, and what reconcile reports. Real QEMU
//! proves what a revert does to a guest (tests/real_snapshots.rs).

mod common;

use std::time::Duration;

use app::auth::{Quota, Role};
use common::sse::SseClient;
use common::{post_json_as, unique_name, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

/// How many snapshots libvirt has of the VM.
fn libvirt_count(app: &TestApp, uuid: &str) -> u32 {
    let id = uuid::Uuid::parse_str(uuid).unwrap();
    app.libvirt()
        .lookup_domain_by_uuid(id)
        .unwrap()
        .num_snapshots(0)
        .unwrap()
}

/// How many author records Limen keeps for the VM.
fn records(app: &TestApp, uuid: &str) -> i64 {
    app.db.count(&format!(
        "SELECT count(*) AS n FROM snapshots WHERE vm_uuid = '{uuid}'"
    ))
}

fn snapshots_url(app: &TestApp, uuid: &str) -> String {
    app.url(&format!("/api/v1/vms/{uuid}/snapshots"))
}

async fn take(app: &TestApp, uuid: &str, body: Value) -> (StatusCode, Value) {
    let response = app
        .client
        .post(snapshots_url(app, uuid))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn snapshots_are_taken_listed_reverted_and_deleted_as_libvirt_has_them() {
    let app = TestApp::spawn().await;
    let uuid = app.create_small_vm(&unique_name("snap")).await;
    let mut events = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;

    let (status, before) = take(
        &app,
        &uuid,
        json!({ "name": "before-upgrade", "description": "  12.4 <ok> & more  " }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{before}");
    assert_eq!(before["name"], "before-upgrade");
    assert_eq!(before["description"], "12.4 <ok> & more");
    assert_eq!(before["state"], "stopped");
    assert_eq!(before["memory"], false);
    assert_eq!(before["parent"], Value::Null);
    assert_eq!(before["current"], true);
    assert_eq!(before["created_by"], "admin");
    assert!(before["created_at"].as_str().unwrap().starts_with("20"));

    // Whoever watches the VM hears the work and its end.
    let progress = events
        .wait_for(WAIT, |e| {
            e.event == "operation_progress" && e.data["state"] == "done"
        })
        .await;
    assert_eq!(progress.data["kind"], "snapshot_create");
    assert_eq!(progress.data["target"], "before-upgrade");
    assert_eq!(progress.data["vm"], uuid.as_str());
    events
        .wait_for(WAIT, |e| {
            e.event == "vm_snapshots" && e.data["uuid"] == uuid.as_str()
        })
        .await;

    let (status, after) = take(&app, &uuid, json!({ "name": "after" })).await;
    assert_eq!(status, StatusCode::CREATED, "{after}");
    assert_eq!(after["parent"], "before-upgrade");
    assert_eq!(after["description"], Value::Null);
    let list: Vec<Value> = app.get_json(&format!("/api/v1/vms/{uuid}/snapshots")).await;
    let names: Vec<&str> = list.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["before-upgrade", "after"]);
    assert_eq!(list[0]["current"], false);
    assert_eq!(list[1]["current"], true);
    assert_eq!((libvirt_count(&app, &uuid), records(&app, &uuid)), (2, 2));

    // A name is taken once per VM.
    let (status, taken) = take(&app, &uuid, json!({ "name": "after" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(taken["code"], "SNAPSHOT_ALREADY_EXISTS");

    let reverted = app
        .post_json(
            &format!("/api/v1/vms/{uuid}/snapshots/before-upgrade/revert"),
            json!({}),
        )
        .await;
    assert_eq!(reverted.status(), StatusCode::OK);
    let reverted: Value = reverted.json().await.unwrap();
    assert_eq!(reverted["name"], "before-upgrade");
    assert_eq!(reverted["current"], true);

    let deleted = app
        .delete(&format!("/api/v1/vms/{uuid}/snapshots/after"))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!((libvirt_count(&app, &uuid), records(&app, &uuid)), (1, 1));
    for gone in [
        app.delete(&format!("/api/v1/vms/{uuid}/snapshots/after"))
            .await,
        app.post_json(
            &format!("/api/v1/vms/{uuid}/snapshots/after/revert"),
            json!({}),
        )
        .await,
    ] {
        assert_eq!(gone.status(), StatusCode::NOT_FOUND);
        let body: Value = gone.json().await.unwrap();
        assert_eq!(body["code"], "SNAPSHOT_NOT_FOUND");
    }

    let audit: Value = app.get_json("/api/v1/audit?limit=50").await;
    let text = audit.to_string();
    for action in [
        "vm.snapshot.create",
        "vm.snapshot.revert",
        "vm.snapshot.delete",
    ] {
        assert!(text.contains(action), "{action} audited: {audit}");
    }

    // Deleting the VM takes its snapshots with it: libvirt's and Limen's records.
    assert_eq!(
        app.delete(&format!("/api/v1/vms/{uuid}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(records(&app, &uuid), 0);
    assert!(app
        .libvirt()
        .lookup_domain_by_uuid(uuid::Uuid::parse_str(&uuid).unwrap())
        .is_err());
}

#[tokio::test]
async fn what_a_snapshot_holds_follows_the_vm_state() {
    let app = TestApp::spawn().await;
    let uuid = app.create_small_vm(&unique_name("state")).await;
    let (status, body) = take(&app, &uuid, json!({ "name": "m", "memory": true })).await;
    assert_eq!(status, StatusCode::CONFLICT, "a stopped VM has no memory");
    assert_eq!(body["code"], "INVALID_STATE");

    app.post_json(
        &format!("/api/v1/vms/{uuid}/action"),
        json!({ "action": "start" }),
    )
    .await;
    let (status, body) = take(&app, &uuid, json!({ "name": "d", "memory": false })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "INVALID_STATE");
    let (status, running) = take(&app, &uuid, json!({ "name": "live" })).await;
    assert_eq!(status, StatusCode::CREATED, "{running}");
    assert_eq!(running["state"], "running");
    assert_eq!(running["memory"], true);
    assert_eq!((libvirt_count(&app, &uuid), records(&app, &uuid)), (1, 1));

    // A VM an operation holds (being created or deleted) is not snapshotted.
    app.db.execute(&format!(
        "UPDATE vms SET status = 'deleting' WHERE uuid = '{uuid}'"
    ));
    let (status, body) = take(&app, &uuid, json!({ "name": "late" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "INVALID_STATE");
    assert_eq!(libvirt_count(&app, &uuid), 1);
}

#[tokio::test]
async fn hostile_input_and_other_peoples_vms_change_nothing() {
    let app = TestApp::spawn().await;
    let uuid = app.create_small_vm(&unique_name("hostile")).await;
    take(&app, &uuid, json!({ "name": "keep" })).await;
    let long = "x".repeat(64);
    let long_description = "d".repeat(1001);
    for body in [
        json!({ "name": "../etc" }),
        json!({ "name": "<script>alert(1)</script>" }),
        json!({ "name": "" }),
        json!({ "name": long }),
        json!({ "name": "a b" }),
        json!({ "name": "a\u{0}b" }),
        json!({ "name": "ok", "description": long_description }),
        json!({ "name": "ok", "description": "bell\u{7}" }),
        json!({ "name": "ok", "unknown": 1 }),
        json!({ "name": 7 }),
        json!({}),
    ] {
        let (status, answer) = take(&app, &uuid, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["code"], "VALIDATION_FAILED", "{body}");
        assert!(!answer["error"].as_str().unwrap().contains('/'), "{answer}");
    }
    for name in ["..%2F..%2Fetc", "%3Cscript%3E", "keep%00", "missing"] {
        for response in [
            app.delete(&format!("/api/v1/vms/{uuid}/snapshots/{name}"))
                .await,
            app.post_json(
                &format!("/api/v1/vms/{uuid}/snapshots/{name}/revert"),
                json!({}),
            )
            .await,
        ] {
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{name}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "SNAPSHOT_NOT_FOUND", "{name}");
        }
    }
    let bad_uuid = app.get("/api/v1/vms/not-a-uuid/snapshots").await;
    assert_eq!(bad_uuid.status(), StatusCode::BAD_REQUEST);

    // Another user's VM does not exist for them, whatever they try.
    let mallory = app.user("mallory", Role::User, Quota::default()).await;
    let url = snapshots_url(&app, &uuid);
    let listed = mallory.get(&url).send().await.unwrap();
    assert_eq!(listed.status(), StatusCode::NOT_FOUND);
    let taken: Value = post_json_as(&mallory, url.clone(), json!({ "name": "mine" })).await;
    assert_eq!(taken["code"], "VM_NOT_FOUND");
    let reverted: Value = post_json_as(&mallory, format!("{url}/keep/revert"), json!({})).await;
    assert_eq!(reverted["code"], "VM_NOT_FOUND");
    let deleted = mallory.delete(format!("{url}/keep")).send().await.unwrap();
    assert_eq!(deleted.status(), StatusCode::NOT_FOUND);

    assert_eq!((libvirt_count(&app, &uuid), records(&app, &uuid)), (1, 1));
    let list: Vec<Value> = app.get_json(&format!("/api/v1/vms/{uuid}/snapshots")).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "keep");
}

#[tokio::test]
async fn the_per_vm_limit_and_the_disk_quota_refuse_and_leave_nothing_behind() {
    let app = TestApp::spawn_configured(TestDb::new(), "test:///default", |config| {
        config.max_snapshots_per_vm = 2;
    })
    .await;
    let uuid = app.create_small_vm(&unique_name("limit")).await;
    for name in ["one", "two"] {
        assert_eq!(
            take(&app, &uuid, json!({ "name": name })).await.0,
            StatusCode::CREATED
        );
    }
    let (status, body) = take(&app, &uuid, json!({ "name": "three" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "SNAPSHOT_LIMIT_REACHED");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("max_snapshots_per_vm"));
    assert_eq!((libvirt_count(&app, &uuid), records(&app, &uuid)), (2, 2));

    // A memory snapshot writes the VM's RAM into its disk file: 2 GiB of it do not fit a
    // 1 GiB disk quota that the 1 GiB disk fills already.
    let alice = app
        .user(
            "alice",
            Role::User,
            Quota {
                max_disk_gb: Some(1),
                ..Quota::default()
            },
        )
        .await;
    let vm: Value = post_json_as(
        &alice,
        app.url("/api/v1/vms"),
        json!({ "name": unique_name("big"), "cpu": 1, "memory": 2048, "disk_size": 1, "start": true }),
    )
    .await;
    let big = vm["uuid"].as_str().unwrap().to_string();
    let operations_before = app.db.operation_states().len();
    let refused = alice
        .post(snapshots_url(&app, &big))
        .json(&json!({ "name": "too-big" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "QUOTA_EXCEEDED");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("Delete old snapshots"),
        "{body}"
    );
    assert_eq!((libvirt_count(&app, &big), records(&app, &big)), (0, 0));
    assert_eq!(
        app.db.operation_states().len(),
        operations_before,
        "no operation ran"
    );

    // Stopped, the snapshot holds the disk only: it fits.
    let stop: Value = post_json_as(
        &alice,
        app.url(&format!("/api/v1/vms/{big}/action")),
        json!({ "action": "stop" }),
    )
    .await;
    assert_eq!(stop["status"], "stopped", "{stop}");
    let fits = alice
        .post(snapshots_url(&app, &big))
        .json(&json!({ "name": "disk-only" }))
        .send()
        .await
        .unwrap();
    assert_eq!(fits.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn snapshots_made_and_deleted_outside_limen_are_published_and_tidied() {
    let app = TestApp::spawn_configured(TestDb::new(), "test:///default", |config| {
        config.snapshot_sweep_secs = 1;
    })
    .await;
    let uuid = app.create_small_vm(&unique_name("virsh")).await;
    let id = uuid::Uuid::parse_str(&uuid).unwrap();
    // Limen took one; the monitor has read the VM at least once (it learns, then compares).
    take(&app, &uuid, json!({ "name": "ours" })).await;
    let mut events = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;

    let domain = app.libvirt().lookup_domain_by_uuid(id).unwrap();
    domain
        .create_snapshot_xml("<domainsnapshot><name>by-virsh</name></domainsnapshot>", 0)
        .unwrap();
    events
        .wait_for(WAIT, |e| {
            e.event == "vm_snapshots" && e.data["uuid"] == uuid.as_str()
        })
        .await;
    let list: Vec<Value> = app.get_json(&format!("/api/v1/vms/{uuid}/snapshots")).await;
    let outside = list.iter().find(|s| s["name"] == "by-virsh").unwrap();
    assert_eq!(
        outside["created_by"],
        Value::Null,
        "not taken through Limen"
    );

    // Deleted outside Limen: published, and its author record tidied.
    virt::domain::Domain::lookup_snapshot_by_name(&domain, "ours", 0)
        .unwrap()
        .delete(0)
        .unwrap();
    events
        .wait_for(WAIT, |e| {
            e.event == "vm_snapshots" && e.data["uuid"] == uuid.as_str()
        })
        .await;
    assert_eq!(records(&app, &uuid), 0);
    let list: Vec<Value> = app.get_json(&format!("/api/v1/vms/{uuid}/snapshots")).await;
    assert_eq!(list.len(), 1);

    // Another user never hears of this VM's snapshots.
    let bob = app.user("bob", Role::User, Quota::default()).await;
    let mut bobs = SseClient::connect(&bob, &app.url("/api/v1/events"), None).await;
    bobs.wait_for(WAIT, |e| e.event == "snapshot").await;
    domain
        .create_snapshot_xml("<domainsnapshot><name>again</name></domainsnapshot>", 0)
        .unwrap();
    events
        .wait_for(WAIT, |e| {
            e.event == "vm_snapshots" && e.data["uuid"] == uuid.as_str()
        })
        .await;
    // Events arrive in order: whatever bob may see of it came before his own next change.
    let own: Value = post_json_as(
        &bob,
        app.url("/api/v1/vms"),
        json!({ "name": unique_name("bobs"), "cpu": 1, "memory": 64, "disk_size": 1 }),
    )
    .await;
    let mut seen = Vec::new();
    bobs.wait_for(WAIT, |e| {
        seen.push(e.event.clone());
        e.event == "vm_created" && e.data["uuid"] == own["uuid"]
    })
    .await;
    assert!(!seen.iter().any(|name| name == "vm_snapshots"), "{seen:?}");
}

#[tokio::test]
async fn reconcile_lists_snapshot_records_without_a_snapshot() {
    let app = TestApp::spawn().await;
    let uuid = app.create_small_vm(&unique_name("stale")).await;
    take(&app, &uuid, json!({ "name": "real" })).await;
    // A record whose snapshot went while nobody watched (Limen was down).
    app.db.execute(&format!(
        "INSERT INTO snapshots (vm_uuid, name, created_by) VALUES ('{uuid}', 'vanished', 'admin')"
    ));
    let report: Value = app.post_for_json("/api/v1/reconcile", json!({})).await;
    let stale = report["stale_snapshots"].as_array().unwrap();
    assert_eq!(stale.len(), 1, "{report}");
    assert_eq!(stale[0]["name"], "vanished");
    assert_eq!(stale[0]["vm"], uuid.as_str());
    assert_eq!(stale[0]["reason"], "deleted outside Limen");
    // Repaired: the record is tidied; the real one stays.
    assert_eq!(records(&app, &uuid), 1);
    let again: Value = app.post_for_json("/api/v1/reconcile", json!({})).await;
    assert_eq!(again["stale_snapshots"], json!([]));
}

#[tokio::test]
async fn a_revert_to_a_larger_disk_is_checked_against_the_quota() {
    let app = TestApp::spawn().await;
    let alice = app
        .user(
            "alice",
            Role::User,
            Quota {
                max_disk_gb: Some(4),
                ..Quota::default()
            },
        )
        .await;
    let vm: Value = post_json_as(
        &alice,
        app.url("/api/v1/vms"),
        json!({ "name": unique_name("grown"), "cpu": 1, "memory": 64, "disk_size": 1 }),
    )
    .await;
    let uuid = vm["uuid"].as_str().unwrap().to_string();
    let taken = alice
        .post(snapshots_url(&app, &uuid))
        .json(&json!({ "name": "big-then" }))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), StatusCode::CREATED);
    // As if the disk had been 8 GiB when it was taken (and shrunk since, outside Limen): a
    // revert would bring 8 GiB back, past the 4 GiB quota.
    app.db.execute(&format!(
        "UPDATE snapshots SET disk_size_gb = 8 WHERE vm_uuid = '{uuid}'"
    ));
    let refused = alice
        .post(format!("{}/big-then/revert", snapshots_url(&app, &uuid)))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "QUOTA_EXCEEDED", "{body}");
    let vm: Value = app.get_json(&format!("/api/v1/vms/{uuid}")).await;
    assert_eq!(vm["disk_size"], 1, "nothing changed");
    // Within the quota, it goes ahead.
    app.db.execute(&format!(
        "UPDATE snapshots SET disk_size_gb = 3 WHERE vm_uuid = '{uuid}'"
    ));
    let reverted = alice
        .post(format!("{}/big-then/revert", snapshots_url(&app, &uuid)))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(reverted.status(), StatusCode::OK);
}

#[tokio::test]
async fn snapshots_named_outside_limens_rule_can_be_reverted_and_deleted() {
    let app = TestApp::spawn().await;
    let uuid = app.create_small_vm(&unique_name("named")).await;
    let domain = app
        .libvirt()
        .lookup_domain_by_uuid(uuid::Uuid::parse_str(&uuid).unwrap())
        .unwrap();
    domain
        .create_snapshot_xml(
            "<domainsnapshot><name>pre upgrade</name></domainsnapshot>",
            0,
        )
        .unwrap();
    let list: Vec<Value> = app.get_json(&format!("/api/v1/vms/{uuid}/snapshots")).await;
    assert_eq!(list[0]["name"], "pre upgrade");
    let reverted = app
        .post_json(
            &format!("/api/v1/vms/{uuid}/snapshots/pre%20upgrade/revert"),
            json!({}),
        )
        .await;
    assert_eq!(reverted.status(), StatusCode::OK);
    let deleted = app
        .delete(&format!("/api/v1/vms/{uuid}/snapshots/pre%20upgrade"))
        .await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(libvirt_count(&app, &uuid), 0);
}

#[tokio::test]
async fn a_name_whose_earlier_take_is_still_being_undone_waits() {
    let app = TestApp::spawn().await;
    let uuid = app.create_small_vm(&unique_name("undo")).await;
    // What a take that failed while libvirt was unreachable leaves for recovery.
    app.db.execute(&format!(
        "INSERT INTO operations (id, kind, vm_uuid, params, steps_started, state) VALUES \
         ('{}', 'snapshot_create', '{uuid}', '{{\"job\": \"{}\", \"vm\": \"{uuid}\", \"name\": \"again\", \
         \"description\": null, \"memory\": false, \"created_by\": \"admin\"}}', ARRAY['take'], 'unwinding')",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    ));
    let (status, body) = take(&app, &uuid, json!({ "name": "again" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("still being undone"),
        "{body}"
    );
    assert_eq!(libvirt_count(&app, &uuid), 0);
    // Another name is not held up.
    assert_eq!(
        take(&app, &uuid, json!({ "name": "other" })).await.0,
        StatusCode::CREATED
    );
}
