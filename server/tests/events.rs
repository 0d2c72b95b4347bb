//! `GET /api/v1/events` against the real router and libvirt's test driver: a snapshot first,
//! then every change as it happens, including changes made behind Limen's back.

mod common;

use std::time::Duration;

use common::sse::{status_in_snapshot, SseClient};
use common::{unique_name, TestApp};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

fn create_body(name: &str) -> Value {
    json!({ "name": name, "cpu": 1, "memory": 128, "disk_size": 1 })
}

#[tokio::test]
async fn a_stream_starts_with_a_snapshot_then_follows_every_change() {
    let app = TestApp::spawn().await;
    let name = unique_name("sse");
    let existing: Value = app
        .post_for_json("/api/v1/vms", create_body(&format!("{name}-a")))
        .await;
    let existing_id = existing["uuid"].as_str().unwrap();

    let mut stream = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    let snapshot = stream.next(WAIT).await.unwrap();
    assert_eq!(snapshot.event, "snapshot");
    assert!(snapshot.id.is_some(), "every event has an id");
    assert_eq!(
        snapshot.retry,
        Some(1000),
        "the client is told how soon to reconnect"
    );
    assert_eq!(
        status_in_snapshot(&snapshot, existing_id).as_deref(),
        Some("stopped")
    );

    // Created.
    let vm: Value = app.post_for_json("/api/v1/vms", create_body(&name)).await;
    let id = vm["uuid"].as_str().unwrap().to_string();
    // Shown at once as being created, then as created.
    let creating = stream
        .wait_for(WAIT, |e| {
            e.event == "vm_created" && e.data["uuid"] == id.as_str()
        })
        .await;
    assert_eq!(creating.data["name"], name.as_str());
    assert_eq!(creating.data["status"], "creating");
    let created = stream
        .wait_for(WAIT, |e| {
            e.data["uuid"] == id.as_str() && e.data["status"] == "stopped"
        })
        .await;
    assert!(["vm_created", "vm_updated"].contains(&created.event.as_str()));

    // Updated, by Limen.
    app.post_json(
        &format!("/api/v1/vms/{id}/action"),
        json!({"action": "start"}),
    )
    .await;
    // (An update of the just-created record may still be on its way: the one that counts is the
    // update that says it runs.)
    let updated = stream
        .wait_for(WAIT, |e| {
            e.event == "vm_updated"
                && e.data["uuid"] == id.as_str()
                && e.data["status"] == "running"
        })
        .await;
    assert_eq!(updated.data["status"], "running");

    // Updated behind Limen's back (a libvirt client of the test's own): libvirt's event says so.
    let conn = app.libvirt();
    let domain = conn.lookup_domain_by_name(&name).unwrap();
    domain.suspend().unwrap();
    let paused = stream
        .wait_for(WAIT, |e| {
            e.event == "vm_updated" && e.data["uuid"] == id.as_str() && e.data["status"] == "paused"
        })
        .await;
    assert_eq!(paused.data["status"], "paused");
    // …and the record follows, so a reload shows the same.
    let got: Value = app.get_json(&format!("/api/v1/vms/{id}")).await;
    assert_eq!(got["status"], "paused");

    // Deleted: first shown as deleting, then gone.
    app.delete(&format!("/api/v1/vms/{id}")).await;
    let deleting = stream
        .wait_for(WAIT, |e| e.data["uuid"] == id.as_str())
        .await;
    assert_eq!(
        (deleting.event.as_str(), &deleting.data["status"]),
        ("vm_updated", &json!("deleting"))
    );
    let deleted = stream.wait_for(WAIT, |e| e.event == "vm_deleted").await;
    assert_eq!(deleted.data, json!({ "uuid": id }));

    // Ids increase.
    let ids: Vec<u64> = [&created, &updated, &paused, &deleted]
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[tokio::test]
async fn a_client_that_reconnects_with_last_event_id_gets_a_fresh_snapshot() {
    let app = TestApp::spawn().await;
    let mut first = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    let snapshot = first.next(WAIT).await.unwrap();
    let name = unique_name("resume");
    let vm: Value = app.post_for_json("/api/v1/vms", create_body(&name)).await;
    let id = vm["uuid"].as_str().unwrap();
    let seen = first.wait_for(WAIT, |e| e.event == "vm_created").await;
    assert_ne!(seen.id, snapshot.id);
    drop(first);

    // Something happens while the client is away…
    app.post_json(
        &format!("/api/v1/vms/{id}/action"),
        json!({"action": "start"}),
    )
    .await;
    // …and on reconnecting it gets the whole truth first, not a guess at what it missed.
    let mut again =
        SseClient::connect(&app.client, &app.url("/api/v1/events"), seen.id.as_deref()).await;
    let fresh = again.next(WAIT).await.unwrap();
    assert_eq!(fresh.event, "snapshot");
    assert_eq!(status_in_snapshot(&fresh, id).as_deref(), Some("running"));
}

#[tokio::test]
async fn the_live_view_holds_what_libvirt_reported() {
    let app = TestApp::spawn().await;
    let name = unique_name("view");
    let vm: Value = app
        .post_for_json(
            "/api/v1/vms",
            json!({ "name": name, "cpu": 1, "memory": 128, "disk_size": 1, "start": true }),
        )
        .await;
    let id = vm["uuid"].as_str().unwrap();
    let list: Vec<Value> = app.get_json("/api/v1/vms").await;
    assert_eq!(list[0]["status"], "running");
    // The view holds the domain with the generation of its last observation, and the record
    // carries the same generation guard (an older observation can never overwrite it).
    let view = app.host().live().snapshot().expect("in step with libvirt");
    let uuid: uuid::Uuid = id.parse().unwrap();
    assert_eq!(view.domains[&uuid].status, app::types::VmStatus::Running);
}
