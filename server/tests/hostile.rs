//! Hostile and careless input, and a host that fails: every error is `{error, code}` with the
//! status of its code, in words written for users — never a host path, never libvirt's or
//! PostgreSQL's own text. Against the real router and PostgreSQL; test:///default, and the real
//! libvirtd for a start that libvirt refuses.

mod common;

use app::auth::{Quota, Role};
use common::process::{DomainCleanup, LIBVIRT};
use common::{unique_name, TestApp, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

/// Text that would mean a daemon's or the host's internals reached a client.
const INTERNALS: &[&str] = &[
    "/var/",
    "/tmp/",
    "/etc/",
    "/dev/",
    "/usr/",
    ".qcow2",
    "libvirt: ",
    "Requested operation",
    "internal error",
    "virError",
    "Domain not found",
    "no domain with matching",
    "Cannot access storage",
    "No such file or directory",
    "qemu-img:",
    "postgres://",
    "127.0.0.1",
    "Connection refused",
    "duplicate key",
    "violates",
    "panicked",
];

/// Asserts that `response` is an error written for users; returns its code and sentence.
async fn error_for_users(
    what: &str,
    response: reqwest::Response,
    data_dir: &std::path::Path,
) -> (StatusCode, String, String) {
    let status = response.status();
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{what}: {status}"
    );
    let text = response.text().await.unwrap();
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
    let object = body.as_object().unwrap();
    let (Some(Value::String(code)), Some(Value::String(sentence))) =
        (object.get("code"), object.get("error"))
    else {
        panic!("{what}: not {{error, code}}: {text}");
    };
    assert!(!sentence.is_empty(), "{what}");
    let data_dir = data_dir.to_string_lossy();
    assert!(
        !text.contains(data_dir.as_ref()),
        "{what}: a host path: {text}"
    );
    for internal in INTERNALS {
        assert!(!text.contains(internal), "{what}: {internal:?} in {text}");
    }
    let expected: app::error::ErrorCode = serde_json::from_value(json!(code)).unwrap();
    assert_eq!(status.as_u16(), expected.status(), "{what}: {text}");
    (status, code.clone(), sentence.clone())
}

#[tokio::test]
async fn hostile_requests_get_sentences_for_users_and_leave_nothing_half_made() {
    let app = TestApp::spawn().await;
    let mallory = app.user("mallory", Role::User, Quota::default()).await;
    std::fs::write(app.data_dir.0.join("isos/real.iso"), b"CD001").unwrap();
    let own_id = app.create_small_vm(&unique_name("own")).await;
    let own_action = format!("/api/v1/vms/{own_id}/action");
    let vm = |fields: Value| {
        let mut body = json!({ "name": unique_name("h"), "cpu": 1, "memory": 64, "disk_size": 1 });
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        body
    };
    let posts: Vec<(&str, &str, Value, StatusCode)> = vec![
        (
            "a path as a name",
            "/api/v1/vms",
            vm(json!({"name": "../etc"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "markup as a name",
            "/api/v1/vms",
            vm(json!({"name": "<script>x</script>"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a long name",
            "/api/v1/vms",
            vm(json!({"name": "x".repeat(64)})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no name",
            "/api/v1/vms",
            vm(json!({"name": ""})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "huge vCPUs",
            "/api/v1/vms",
            vm(json!({"cpu": u32::MAX})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "huge memory",
            "/api/v1/vms",
            vm(json!({"memory": u64::MAX})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "huge disk",
            "/api/v1/vms",
            vm(json!({"disk_size": u64::MAX})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a negative size",
            "/api/v1/vms",
            vm(json!({"cpu": -1})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "an ISO path",
            "/api/v1/vms",
            vm(json!({"iso": "../../etc/passwd"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "an absolute image",
            "/api/v1/vms",
            vm(json!({"image": "/etc/passwd"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "no such ISO",
            "/api/v1/vms",
            vm(json!({"iso": "nope.iso"})),
            StatusCode::NOT_FOUND,
        ),
        (
            "no such image",
            "/api/v1/vms",
            vm(json!({"image": "nope.qcow"})),
            StatusCode::NOT_FOUND,
        ),
        (
            "an ISO that is not an image",
            "/api/v1/vms",
            vm(json!({"image": "real.iso"})),
            StatusCode::NOT_FOUND,
        ),
        (
            "a field of its own",
            "/api/v1/vms",
            vm(json!({"owner": "admin"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            "a made-up action",
            &own_action,
            json!({"action": "explode"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "an action not now",
            &own_action,
            json!({"action": "resume"}),
            StatusCode::CONFLICT,
        ),
        (
            "adopt nothing",
            "/api/v1/reconcile/adopt",
            json!({"uuid": Uuid::new_v4()}),
            StatusCode::NOT_FOUND,
        ),
        (
            "adopt for a path",
            "/api/v1/reconcile/adopt",
            json!({"uuid": Uuid::new_v4(), "owner": "../x"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            "forget a VM that is there",
            "/api/v1/reconcile/forget",
            json!({"uuid": own_id}),
            StatusCode::CONFLICT,
        ),
    ];
    let posts = posts.into_iter().map(|(what, path, body, status)| {
        (what, Method::POST, path.to_string(), Some(body), status)
    });
    let others = [
        (
            "not a UUID",
            Method::GET,
            "/api/v1/vms/..%2F..%2Fetc".to_string(),
            None,
            StatusCode::BAD_REQUEST,
        ),
        (
            "no such VM",
            Method::GET,
            format!("/api/v1/vms/{}", Uuid::new_v4()),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "delete no such VM",
            Method::DELETE,
            format!("/api/v1/vms/{}", Uuid::new_v4()),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "no such endpoint",
            Method::GET,
            "/api/v1/nope".to_string(),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "another API version",
            Method::GET,
            "/api/v2/vms".to_string(),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "outside the API",
            Method::GET,
            "/api/nope".to_string(),
            None,
            StatusCode::NOT_FOUND,
        ),
        (
            "a wrong method",
            Method::PUT,
            "/api/v1/vms".to_string(),
            None,
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (what, method, path, body, expected) in posts.chain(others) {
        let mut request = app.client.request(method, app.url(&path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, _, _) = error_for_users(what, response, &app.data_dir.0).await;
        assert_eq!(status, expected, "{what}");
    }

    // Not JSON, and cut off.
    let plain = app
        .client
        .post(app.url("/api/v1/vms"))
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .unwrap();
    let (status, _, _) = error_for_users("not JSON", plain, &app.data_dir.0).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let cut = app
        .client
        .post(app.url("/api/v1/vms"))
        .header("content-type", "application/json")
        .body(r#"{"name": "cut", "cpu": 1, "mem"#)
        .send()
        .await
        .unwrap();
    let (status, _, _) = error_for_users("a cut-off body", cut, &app.data_dir.0).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Another user's VM is exactly a VM that does not exist.
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/vms/{own_id}"), None),
        (
            Method::POST,
            format!("/api/v1/vms/{own_id}/action"),
            Some(json!({"action": "start"})),
        ),
        (Method::DELETE, format!("/api/v1/vms/{own_id}"), None),
    ] {
        let mut request = mallory.request(method.clone(), app.url(&path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, code, _) =
            error_for_users("another user's VM", response, &app.data_dir.0).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "VM_NOT_FOUND"),
            "{method} {path}"
        );
    }

    // Nothing was made by any of it: the one VM, its one disk, its one domain.
    assert_eq!(app.db.count_vms(), 1);
    assert_eq!(app.disk_files().len(), 1);
    let list: Vec<Value> = app.get_json("/api/v1/vms").await;
    assert_eq!(list.len(), 1);
}

#[tokio::test]
async fn unknown_pages_are_not_found_in_words() {
    let app = TestApp::spawn().await;
    for path in ["/nope", "/admin/nope", "/vms/x/y/z"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let page = response.text().await.unwrap();
        assert!(!page.contains("service layer"), "{path}: {page}");
    }
}

/// A start libvirt refuses because the VM's disk image is gone: the user reads why, in words,
/// without the path; the record still says what libvirt says.
#[tokio::test(flavor = "multi_thread")]
async fn a_start_libvirt_refuses_is_explained_without_its_internals() {
    let app = TestApp::spawn_with(TestDb::new(), LIBVIRT).await;
    let name = unique_name("nodisk");
    let _cleanup = DomainCleanup(vec![name.clone()]);
    let id = app.create_small_vm(&name).await;
    std::fs::remove_file(app.data_dir.0.join(format!("disks/{id}.qcow2"))).unwrap();

    let response = app
        .post_json(
            &format!("/api/v1/vms/{id}/action"),
            json!({"action": "start"}),
        )
        .await;
    let (_, _, sentence) =
        error_for_users("a start without its disk", response, &app.data_dir.0).await;
    assert!(
        sentence.contains("could not start the VM") && sentence.contains("missing"),
        "{sentence}"
    );
    let got: Value = app.get_json(&format!("/api/v1/vms/{id}")).await;
    assert_eq!(got["status"], "stopped");
    assert!(app
        .delete(&format!("/api/v1/vms/{id}"))
        .await
        .status()
        .is_success());
}
