//! /healthz and /readyz, including what they say when a dependency is down.

mod common;

use common::{TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn ready_when_database_and_libvirt_answer() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["libvirt"], "ok");
    assert!(response_has_request_id(&app).await);
}

async fn response_has_request_id(app: &TestApp) -> bool {
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    response
        .headers()
        .get("x-request-id")
        .is_some_and(|v| v == "abc-123")
}

#[tokio::test]
async fn not_ready_names_the_database_when_it_is_down() {
    let app = TestApp::spawn_without_database().await;
    let response = app.get("/healthz").await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "alive even without a database"
    );
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "DATABASE_UNAVAILABLE");
    assert_eq!(body["libvirt"], "ok");
    // And an API call says so in its own words (its credentials cannot even be checked).
    let response = app
        .client
        .get(app.url("/api/v1/vms"))
        .bearer_auth("limen_some-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "DATABASE_UNAVAILABLE");
}

/// A database that refuses connections is said at once (not after the pool's whole wait), in
/// words (its address is for the log), for probes, pages' calls and changes alike.
#[tokio::test]
async fn a_database_that_refuses_connections_is_said_within_a_second() {
    let app = TestApp::spawn_without_database().await;
    for (method, path) in [
        (reqwest::Method::GET, "/readyz"),
        (reqwest::Method::GET, "/api/v1/me"),
        (reqwest::Method::POST, "/api/v1/vms"),
    ] {
        let started = std::time::Instant::now();
        let response = app
            .client
            .request(method, app.url(path))
            .bearer_auth("limen_some-token")
            .json(&serde_json::json!({"name": "x", "cpu": 1, "memory": 64, "disk_size": 1}))
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        let body = response.text().await.unwrap();
        assert!(body.contains("DATABASE_UNAVAILABLE"), "{path}: {body}");
        assert!(
            !body.contains("127.0.0.1") && !body.contains(":1"),
            "{path}: the address is for the log: {body}"
        );
        assert!(
            took < std::time::Duration::from_secs(1),
            "{path} took {took:?}"
        );
    }
}

#[tokio::test]
async fn not_ready_names_libvirt_when_it_is_unreachable() {
    // Nothing listens on port 1: the connection is refused.
    let app = TestApp::spawn_with(TestDb::new(), "qemu+tcp://127.0.0.1:1/system").await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "HYPERVISOR_UNAVAILABLE");
    assert_eq!(body["database"], "ok");
    // The list still answers (a host that cannot be reached leaves its VMs `unknown`, and
    // the other hosts' VMs are listed as ever); what needs the host says it is unreachable.
    let response = app.get("/api/v1/vms").await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .post_json(
            "/api/v1/vms",
            serde_json::json!({ "name": "nowhere", "cpu": 1, "memory": 64, "disk_size": 1 }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "HYPERVISOR_UNAVAILABLE");
}
