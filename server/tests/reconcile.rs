//! Reconciliation against the real libvirtd (qemu:///system): disagreements made with `virsh`
//! and by hand are each reported and resolved as SPEC §6 says, and nothing is deleted silently.

mod common;

use common::process::{
    expect_abort, limen, output_of, terminate, virsh, DomainCleanup, Node, LIBVIRT,
};
use common::{unique_name, TestApp, TestDb};
use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

/// Defines, with `virsh define`, a small domain Limen knows nothing about.
fn define_ghost(name: &str, dir: &std::path::Path) -> Uuid {
    let uuid = Uuid::new_v4();
    let xml = format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='KiB'>65536</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os></domain>"
    );
    let file = dir.join(format!("{name}.xml"));
    std::fs::write(&file, xml).unwrap();
    virsh(&["define", file.to_str().unwrap()]);
    uuid
}

fn in_report<'a>(report: &'a Value, section: &str, uuid: &str) -> Option<&'a Value> {
    report[section]
        .as_array()
        .unwrap_or_else(|| panic!("no {section} in {report}"))
        .iter()
        .find(|entry| entry["uuid"] == uuid)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_disagreement_is_reported_and_resolved_and_nothing_is_deleted_silently() {
    let app = TestApp::spawn_with(TestDb::new(), LIBVIRT).await;
    let (drifting, vanishing, ghost) = (
        unique_name("drift"),
        unique_name("missing"),
        unique_name("ghost"),
    );
    let _cleanup = DomainCleanup(vec![drifting.clone(), vanishing.clone(), ghost.clone()]);
    let drift_id = app.create_small_vm(&drifting).await;
    let missing_id = app.create_small_vm(&vanishing).await;

    // A ghost, a missing domain, a drifted record, an orphan disk.
    let ghost_id = define_ghost(&ghost, &app.data_dir.0).to_string();
    virsh(&["undefine", &vanishing]);
    diesel::sql_query(format!(
        "UPDATE vms SET status = 'paused' WHERE uuid = '{drift_id}'"
    ))
    .execute(&mut app.db.connect())
    .unwrap();
    let stray = app.data_dir.0.join("disks/stray.qcow2");
    std::fs::write(&stray, b"not a VM's").unwrap();

    let response = app.post_json("/api/v1/reconcile", json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();

    let ghost_entry = in_report(&report, "ghosts", &ghost_id).expect("the ghost is reported");
    assert_eq!(
        (&ghost_entry["name"], &ghost_entry["status"]),
        (&json!(ghost), &json!("stopped"))
    );
    assert!(
        in_report(&report, "missing", &missing_id).is_some(),
        "{report}"
    );
    let drift = in_report(&report, "drift", &drift_id).expect("the drift is reported");
    assert_eq!(
        (&drift["recorded"], &drift["observed"]),
        (&json!("paused"), &json!("stopped"))
    );
    let orphans = report["orphan_disks"].as_array().unwrap();
    assert!(
        orphans
            .iter()
            .any(|o| o["file"] == "stray.qcow2" && o["size"] == 10),
        "{report}"
    );
    assert!(
        !orphans
            .iter()
            .any(|o| o["file"].as_str().unwrap().starts_with(&drift_id)),
        "a VM's own disk is not an orphan"
    );

    // Resolved: drift corrected, missing marked; reported things left in place.
    let got: Value = app.get_json(&format!("/api/v1/vms/{drift_id}")).await;
    assert_eq!(got["status"], "stopped");
    let got: Value = app.get_json(&format!("/api/v1/vms/{missing_id}")).await;
    assert_eq!(got["status"], "missing");
    assert!(stray.exists(), "orphan disks are listed, never removed");
    assert!(app.domain_exists(&ghost), "ghosts are listed, not removed");

    // Adopt the ghost: hostile input refused, unknown domains 404, then it is a VM like any other.
    let adopt = |body: Value| app.post_json("/api/v1/reconcile/adopt", body);
    let refused = adopt(json!({ "uuid": ghost_id, "owner": "../x" })).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let unknown = adopt(json!({ "uuid": Uuid::new_v4() })).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let adopted = adopt(json!({ "uuid": ghost_id, "role": "lab" })).await;
    assert_eq!(adopted.status(), StatusCode::CREATED);
    let vm: Value = adopted.json().await.unwrap();
    assert_eq!(
        (
            &vm["name"],
            &vm["cpu"],
            &vm["memory"],
            &vm["role"],
            &vm["status"],
            &vm["boot_order"]
        ),
        (
            &json!(ghost),
            &json!(1),
            &json!(64),
            &json!("lab"),
            &json!("stopped"),
            &json!("hd")
        )
    );
    let again = adopt(json!({ "uuid": ghost_id })).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let list: Vec<Value> = app.get_json("/api/v1/vms").await;
    assert!(list.iter().any(|vm| vm["uuid"] == ghost_id.as_str()));
    let started = app
        .post_json(
            &format!("/api/v1/vms/{ghost_id}/action"),
            json!({"action": "start"}),
        )
        .await;
    assert_eq!(started.status(), StatusCode::OK);
    let again: Value = app.post_for_json("/api/v1/reconcile", json!({})).await;
    assert!(
        in_report(&again, "ghosts", &ghost_id).is_none(),
        "adopted: no longer a ghost"
    );

    // Removing a record is refused while its domain exists…
    let forget = |id: &str| app.post_json("/api/v1/reconcile/forget", json!({ "uuid": id }));
    assert_eq!(forget(&drift_id).await.status(), StatusCode::CONFLICT);
    // …and for a missing VM removes the record only: its disk stays, now an orphan.
    let missing_disk = app.data_dir.0.join(format!("disks/{missing_id}.qcow2"));
    assert!(missing_disk.exists());
    assert_eq!(forget(&missing_id).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.get(&format!("/api/v1/vms/{missing_id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    assert!(
        missing_disk.exists(),
        "the disk is never removed with the record"
    );
    let after: Value = app.post_for_json("/api/v1/reconcile", json!({})).await;
    let orphan_name = format!("{missing_id}.qcow2");
    assert!(after["orphan_disks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["file"] == orphan_name.as_str()));

    // The adopted VM is deleted like any other.
    let deleted = app.delete(&format!("/api/v1/vms/{ghost_id}")).await;
    assert!(deleted.status().is_success());
    assert!(!app.domain_exists(&ghost));
    let list: Vec<Value> = app.get_json("/api/v1/vms").await;
    assert_eq!(list.len(), 1);
}

#[test]
fn limen_reconcile_finishes_an_operation_a_crash_cut_off() {
    let node = Node::new();
    let name = unique_name("cut");
    let _cleanup = DomainCleanup(vec![name.clone()]);
    let mut child = node.start(Some("vm_create.define:abort"));
    let created = node
        .client()
        .post(node.url("/api/v1/vms"))
        .json(&json!({ "name": name, "cpu": 1, "memory": 64, "disk_size": 1 }))
        .send();
    assert!(
        created.is_err(),
        "the server died in the middle of the create"
    );
    expect_abort(&mut child, &node);
    assert_eq!(node.db.operation_states(), ["running"]);

    // No server is running: the command finishes the job itself and prints the report.
    let output = limen(&node.db.url, &node.data_dir, LIBVIRT, node.port)
        .arg("reconcile")
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        output_of(&node.data_dir)
    );
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let operations = report["operations"].as_array().unwrap();
    assert_eq!(operations.len(), 1, "{report}");
    assert_eq!(
        (&operations[0]["kind"], &operations[0]["outcome"]),
        (&json!("vm_create"), &json!("undone"))
    );
    assert_eq!(node.db.operation_states(), ["undone"]);
    assert_eq!(node.disk_files(), 0);
    assert_eq!(node.db.count_vms(), 0);

    // With a server running, the command leaves operations to it and says so; it reports a
    // drifted record but does not write it (the server is the one writer), and starts no
    // monitor of its own.
    let mut child = node.start(None);
    let drifting = unique_name("beside");
    let _beside = DomainCleanup(vec![drifting.clone()]);
    let vm: Value = node
        .client()
        .post(node.url("/api/v1/vms"))
        .json(&json!({ "name": drifting, "cpu": 1, "memory": 64, "disk_size": 1 }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = vm["uuid"].as_str().unwrap().to_string();
    // The server writes what libvirt's events about the new domain said, a moment after the
    // create answered (one or two writes): such a write (rightly) undoes the drift. So the drift
    // is made again until a run of the command saw the record untouched by anyone meanwhile.
    let generation_sql = format!("SELECT generation AS n FROM vms WHERE uuid = '{id}'");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        node.db.execute(&format!(
            "UPDATE vms SET status = 'paused' WHERE uuid = '{id}'"
        ));
        let generation = node.db.count(&generation_sql);
        let output = limen(&node.db.url, &node.data_dir, LIBVIRT, node.port)
            .arg("reconcile")
            .stdout(std::process::Stdio::piped())
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", output_of(&node.data_dir));
        let paused = node.db.count(&format!(
            "SELECT count(*) AS n FROM vms WHERE uuid = '{id}' AND status = 'paused'"
        ));
        if paused == 0 || node.db.count(&generation_sql) != generation {
            assert!(
                std::time::Instant::now() < deadline,
                "the server kept rewriting the record"
            );
            continue;
        }
        // Nothing wrote the record while the command ran: it reported the drift and left the
        // record as it was (the server is the one writer).
        assert!(output_of(&node.data_dir).contains("unfinished operations are listed, not touched"));
        let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
        let drift = in_report(&report, "drift", &id).expect("the drift is reported");
        assert_eq!(drift["observed"], "stopped");
        break;
    }
    assert!(terminate(&mut child).success());
}
