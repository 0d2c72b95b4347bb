//! The VM REST API against the real router, a real PostgreSQL database and libvirt's
//! test:///default driver.

mod common;

use std::time::Duration;

use common::sse::SseClient;
use common::{unique_name, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn create_body(name: &str) -> Value {
    json!({ "name": name, "cpu": 1, "memory": 256, "disk_size": 1 })
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("error bodies are JSON");
    let code = body["code"].as_str().expect("a code").to_string();
    let message = body["error"].as_str().expect("a sentence").to_string();
    assert!(!message.is_empty());
    (status, code, message)
}

#[tokio::test]
async fn create_get_list_and_delete_a_vm() {
    let app = TestApp::spawn().await;
    let name = unique_name("web");

    let response = app.post_json("/api/v1/vms", create_body(&name)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let vm: Value = response.json().await.unwrap();
    assert_eq!(vm["name"], name);
    assert_eq!(vm["status"], "stopped", "state comes from the hypervisor");
    assert_eq!(vm["cpu"], 1);
    assert_eq!(vm["memory"], 256);
    assert_eq!(vm["disk_size"], 1);
    assert_eq!(vm["boot_order"], "cdrom_hd");
    assert_eq!(vm["installation_status"], "NotInstalled");
    let uuid = vm["uuid"].as_str().unwrap().to_string();

    // The disk is a qcow2 named after the UUID, the domain exists, the record exists.
    let disks = app.disk_files();
    assert_eq!(disks.len(), 1);
    assert!(disks[0].ends_with(format!("{uuid}.qcow2")));
    assert!(app.domain_exists(&name));
    assert_eq!(app.db.count_vms(), 1);

    let got: Value = app.get_json(&format!("/api/v1/vms/{uuid}")).await;
    assert_eq!(got["uuid"], uuid);
    let list: Vec<Value> = app.get_json("/api/v1/vms").await;
    assert_eq!(
        list.len(),
        1,
        "only Limen's VMs are listed, not the driver's own `test` domain"
    );
    assert_eq!(list[0]["uuid"], uuid);

    let response = app.delete(&format!("/api/v1/vms/{uuid}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(app.disk_files().is_empty());
    assert!(!app.domain_exists(&name));
    assert_eq!(app.db.count_vms(), 0);
    let response = app.get(&format!("/api/v1/vms/{uuid}")).await;
    let (status, code, _) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "VM_NOT_FOUND")
    );
}

#[tokio::test]
async fn actions_follow_the_hypervisor_and_refuse_nonsense() {
    let app = TestApp::spawn().await;
    let name = unique_name("act");
    let vm: Value = app.post_for_json("/api/v1/vms", create_body(&name)).await;
    let action_url = format!("/api/v1/vms/{}/action", vm["uuid"].as_str().unwrap());

    let stop_while_stopped = app.post_json(&action_url, json!({"action": "stop"})).await;
    let (status, code, message) = error_of(stop_while_stopped).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "INVALID_STATE")
    );
    assert!(message.contains("stopped"), "{message}");

    for (action, expected) in [
        ("start", "running"),
        ("pause", "paused"),
        ("resume", "running"),
        ("stop", "stopped"),
    ] {
        let response = app
            .post_json(&action_url, json!({ "action": action }))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{action}");
        let vm: Value = response.json().await.unwrap();
        assert_eq!(vm["status"], expected, "after {action}");
    }

    // The recorded status comes to match the hypervisor (a refresh shows the truth). An event
    // of an earlier action may still be on its way and pass through the record first, so wait
    // for agreement, with a deadline.
    let mut conn = app.db.connect();
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Status {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let recorded: Status = diesel::sql_query("SELECT status FROM vms")
            .get_result(&mut conn)
            .unwrap();
        if recorded.status == "stopped" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the record says {} after stop",
            recorded.status
        );
        // Polled: the record has no event of its own to wait on.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let unknown = app
        .post_json(&action_url, json!({"action": "explode"}))
        .await;
    let (status, code, _) = error_of(unknown).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
    );

    app.client
        .delete(app.url(&format!("/api/v1/vms/{}", vm["uuid"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn duplicate_names_are_409_and_create_nothing() {
    let app = TestApp::spawn().await;
    let name = unique_name("dup");
    assert_eq!(
        app.post_json("/api/v1/vms", create_body(&name))
            .await
            .status(),
        StatusCode::CREATED
    );
    let (status, code, message) =
        error_of(app.post_json("/api/v1/vms", create_body(&name)).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "VM_ALREADY_EXISTS")
    );
    assert!(message.contains(&name));
    assert_eq!(app.db.count_vms(), 1);
    assert_eq!(app.disk_files().len(), 1);

    // A domain libvirt already has under that name (defined outside Limen) is a conflict too.
    let (status, code, _) = error_of(app.post_json("/api/v1/vms", create_body("test")).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "VM_ALREADY_EXISTS")
    );
    assert_eq!(app.db.count_vms(), 1);
}

#[tokio::test]
async fn hostile_input_is_a_4xx_with_a_code_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(64);
    let bad_names = [
        "", "../etc", "a/b", "<script>", "x'y", "x\"y", "a\u{0}b", "a\nb", "-x", &long,
    ];
    for name in bad_names {
        let (status, code, _) =
            error_of(app.post_json("/api/v1/vms", create_body(name)).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
            "{name:?}"
        );
    }
    let n = unique_name("n");
    let bad_bodies = [
        json!({ "name": n, "cpu": 0, "memory": 256, "disk_size": 1 }),
        json!({ "name": n, "cpu": -1, "memory": 256, "disk_size": 1 }),
        json!({ "name": n, "cpu": 100000, "memory": 256, "disk_size": 1 }),
        json!({ "name": n, "cpu": "2", "memory": 256, "disk_size": 1 }),
        json!({ "name": n, "cpu": 1, "memory": 0, "disk_size": 1 }),
        json!({ "name": n, "cpu": 1, "memory": u64::MAX, "disk_size": 1 }),
        json!({ "name": n, "cpu": 1, "memory": 256, "disk_size": 0 }),
        json!({ "name": n, "cpu": 1, "memory": 256, "disk_size": 1e30 }),
        json!({ "name": n, "cpu": 1, "memory": 256, "disk_size": 1, "admin": true }),
        json!({ "name": n, "cpu": 1, "memory": 256 }),
        json!({ "name": n, "cpu": 1, "memory": 256, "disk_size": 1, "boot_order": "floppy" }),
        json!({ "name": n, "cpu": 1, "memory": 256, "disk_size": 1, "os_type": "../../etc" }),
        json!([1, 2, 3]),
    ];
    for body in bad_bodies {
        let (status, code, _) = error_of(app.post_json("/api/v1/vms", body.clone()).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
            "{body}"
        );
    }
    // Memory beyond what the host has is refused before anything is made.
    let too_big = json!({ "name": n, "cpu": 1, "memory": 1024 * 1024, "disk_size": 1 });
    let (status, code, message) = error_of(app.post_json("/api/v1/vms", too_big).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
    );
    assert!(message.contains("host"), "{message}");

    // Not JSON, wrong content type, too large.
    let not_json = app
        .client
        .post(app.url("/api/v1/vms"))
        .header("content-type", "application/json")
        .body("{name: nope")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(not_json).await.1, "VALIDATION_FAILED");
    let form = app
        .client
        .post(app.url("/api/v1/vms"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=x&cpu=1")
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(form).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
    );
    let huge = app
        .client
        .post(app.url("/api/v1/vms"))
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024])
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(huge).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
    );

    // Bad ids, unknown ids, unknown routes.
    let (status, code, _) = error_of(app.get("/api/v1/vms/..%2F..%2Fetc").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
    );
    let unknown = format!("/api/v1/vms/{}", uuid::Uuid::new_v4());
    let (status, code, _) = error_of(app.get(&unknown).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "VM_NOT_FOUND")
    );
    let (status, code, _) = error_of(app.delete(&unknown).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "VM_NOT_FOUND")
    );
    let (status, code, _) = error_of(app.get("/api/v1/nothing").await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
    let (status, code, _) =
        error_of(app.client.put(app.url("/api/v1/vms")).send().await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );

    // Nothing was made anywhere.
    assert_eq!(app.db.count_vms(), 0);
    assert!(app.disk_files().is_empty());
    let conn = app.libvirt();
    let names: Vec<String> = conn
        .list_all_domains(0)
        .unwrap()
        .iter()
        .map(|d| d.name().unwrap())
        .collect();
    assert!(
        !names
            .iter()
            .any(|name| name.starts_with(&n[..2]) && name == &n),
        "{names:?}"
    );
}

#[tokio::test]
async fn delete_cleans_up_after_a_domain_removed_by_hand() {
    let app = TestApp::spawn().await;
    let name = unique_name("gone");
    let vm: Value = app.post_for_json("/api/v1/vms", create_body(&name)).await;
    let uuid = vm["uuid"].as_str().unwrap().to_string();
    let mut events = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    // Someone runs `virsh undefine` behind Limen's back; libvirt's event says so.
    app.libvirt()
        .lookup_domain_by_name(&name)
        .unwrap()
        .undefine()
        .unwrap();
    // The create's own "defined" event may still be on its way, so an
    // update saying `stopped` can come first; wait for the one that matters.
    events
        .wait_for(Duration::from_secs(10), |e| {
            e.event == "vm_updated"
                && e.data["uuid"] == uuid.as_str()
                && e.data["status"] == "missing"
        })
        .await;
    let got: Value = app.get_json(&format!("/api/v1/vms/{uuid}")).await;
    assert_eq!(got["status"], "missing");

    let response = app.delete(&format!("/api/v1/vms/{uuid}")).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(app.disk_files().is_empty(), "the disk is still cleaned");
    assert_eq!(app.db.count_vms(), 0, "the record is still removed");
}

#[tokio::test]
async fn the_dashboard_server_functions_read_the_same_service() {
    let app = TestApp::spawn().await;
    let name = unique_name("rpc");
    let created: Value = app.post_for_json("/api/v1/vms", create_body(&name)).await;
    let via_rpc: Vec<Value> = app.post_for_json("/rpc/list_vms", json!({})).await;
    let via_rest: Vec<Value> = app.get_json("/api/v1/vms").await;
    assert_eq!(via_rpc, via_rest);
    assert_eq!(via_rpc[0]["uuid"], created["uuid"]);

    // Server functions fail the same way REST does: same code, same status.
    let response = app
        .post_json(
            "/rpc/act_on_vm",
            json!({ "id": created["uuid"], "action": "stop" }),
        )
        .await;
    let (status, code, _) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::CONFLICT, "INVALID_STATE")
    );
    // A cross-site form can post text/plain whose body is valid JSON; it is refused (415).
    let forged = app
        .client
        .post(app.url("/rpc/create_vm"))
        .header("content-type", "text/plain")
        .body(json!({ "request": create_body("forged") }).to_string())
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(forged).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE")
    );
    assert_eq!(
        app.db.count_vms(),
        1,
        "nothing was created by the forged call"
    );

    let response = app
        .post_json(
            "/rpc/create_vm",
            json!({ "request": create_body("../evil") }),
        )
        .await;
    let (status, code, _) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
    );
    assert_eq!(app.db.count_vms(), 1);
}

#[tokio::test]
async fn the_dashboard_page_is_rendered_on_the_server_with_the_vms() {
    let app = TestApp::spawn().await;
    let name = unique_name("ssr");
    app.post_json("/api/v1/vms", create_body(&name)).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let gzipped = app
        .client
        .get(app.url("/"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(
        gzipped.headers()["content-encoding"],
        "gzip",
        "pages are compressed"
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Virtual machines</h1>"));
    assert!(
        html.contains(&name),
        "the VM list is in the first HTML response"
    );
    assert!(html.contains("Stopped"));
    // The create dialog loads when it is opened: the first HTML has its button, not its form.
    assert!(html.contains("New virtual machine"));
    assert!(!html.contains("Create a virtual machine"));
}

#[tokio::test]
async fn the_list_is_served_gzipped_to_clients_that_accept_it() {
    let app = TestApp::spawn().await;
    for i in 0..3 {
        let created = app
            .post_json("/api/v1/vms", create_body(&unique_name(&format!("gz{i}"))))
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    let plain: Vec<Value> = app.get_json("/api/v1/vms").await;
    assert_eq!(plain.len(), 3);
    let response = app
        .client
        .get(app.url("/api/v1/vms"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["vary"], "accept-encoding");
    let body = response.bytes().await.unwrap();
    let mut json = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut json).unwrap();
    let unpacked: Vec<Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(unpacked, plain, "the same list, compressed once");
}
