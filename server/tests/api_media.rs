//! The ISO and base-image libraries, and VMs created from them.

mod common;

use app::auth::{Quota, Role};
use common::{unique_name, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn qemu_img_info(path: &std::path::Path) -> Value {
    let output = std::process::Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(path)
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn with_media() -> TestApp {
    let app = TestApp::spawn().await;
    std::fs::write(
        app.data_dir.0.join("isos/debian-12.iso"),
        b"an ISO, as far as libvirt cares",
    )
    .unwrap();
    let base = app.data_dir.0.join("images/alpine-base.qcow2");
    let created = std::process::Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2"])
        .arg(&base)
        .arg("2G")
        .status()
        .unwrap();
    assert!(created.success());
    app
}

#[tokio::test]
async fn the_libraries_list_their_files() {
    let app = with_media().await;
    let isos: Vec<Value> = app.get_json("/api/v1/isos").await;
    assert_eq!(
        isos,
        [json!({ "name": "debian-12.iso", "size": 31, "used_by": [] })]
    );
    let images: Vec<Value> = app.get_json("/api/v1/images").await;
    assert_eq!(images.len(), 1);
    assert_eq!(images[0]["name"], "alpine-base.qcow2");
}

#[tokio::test]
async fn a_vm_from_an_iso_has_it_in_its_cdrom_drive() {
    let app = with_media().await;
    let name = unique_name("iso");
    let response = app
        .post_json(
            "/api/v1/vms",
            json!({ "name": name, "cpu": 1, "memory": 128, "disk_size": 1, "iso": "debian-12.iso" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let vm: Value = response.json().await.unwrap();
    assert_eq!(vm["current_media"], "debian-12.iso");
    let xml = app
        .libvirt()
        .lookup_domain_by_name(&name)
        .unwrap()
        .xml_desc(0)
        .unwrap();
    let iso_path = app
        .data_dir
        .0
        .canonicalize()
        .unwrap()
        .join("isos/debian-12.iso");
    assert!(
        xml.contains(&format!("<source file='{}'", iso_path.display())),
        "{xml}"
    );
}

#[tokio::test]
async fn a_vm_from_a_base_image_is_a_copy_on_write_overlay() {
    let app = with_media().await;
    let base = app.data_dir.0.join("images/alpine-base.qcow2");
    let base_before = std::fs::read(&base).unwrap();
    let name = unique_name("cow");
    let response = app
        .post_json(
            "/api/v1/vms",
            json!({ "name": name, "cpu": 1, "memory": 128, "disk_size": 4, "image": "alpine-base.qcow2" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let disks = app.disk_files();
    assert_eq!(disks.len(), 1);
    let info = qemu_img_info(&disks[0]);
    assert_eq!(info["format"], "qcow2");
    assert_eq!(info["virtual-size"], 4u64 << 30);
    assert_eq!(
        info["backing-filename"],
        base.canonicalize().unwrap().to_string_lossy().as_ref()
    );

    // Deleting the clone removes the overlay, never the base.
    let vm: Value = app.get_json("/api/v1/vms").await;
    let uuid = vm[0]["uuid"].as_str().unwrap().to_string();
    assert_eq!(
        app.delete(&format!("/api/v1/vms/{uuid}")).await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(app.disk_files().is_empty());
    assert_eq!(
        std::fs::read(&base).unwrap(),
        base_before,
        "the base is never written"
    );
}

#[tokio::test]
async fn media_named_by_path_or_missing_is_refused_and_creates_nothing() {
    let app = with_media().await;
    std::fs::write(app.data_dir.0.join("outside.iso"), b"not in the library").unwrap();
    let cases = [
        (
            json!({ "iso": "../outside.iso" }),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({ "iso": "/etc/passwd" }),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({ "iso": ".hidden.iso" }),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({ "iso": "missing.iso" }),
            StatusCode::NOT_FOUND,
            "ISO_NOT_FOUND",
        ),
        (
            json!({ "image": "../../etc/shadow" }),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            json!({ "image": "missing.qcow2" }),
            StatusCode::NOT_FOUND,
            "IMAGE_NOT_FOUND",
        ),
        (
            json!({ "image": "debian-12.iso" }),
            StatusCode::NOT_FOUND,
            "IMAGE_NOT_FOUND",
        ),
        (
            json!({ "iso": 7 }),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
    ];
    for (media, status, code) in cases {
        let mut body =
            json!({ "name": unique_name("media"), "cpu": 1, "memory": 128, "disk_size": 4 });
        body.as_object_mut()
            .unwrap()
            .extend(media.as_object().unwrap().clone());
        let response = app.post_json("/api/v1/vms", body.clone()).await;
        assert_eq!(response.status(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], code, "{body}");
    }
    // A disk smaller than its base image cannot hold it.
    let small = json!({ "name": unique_name("small"), "cpu": 1, "memory": 128, "disk_size": 1, "image": "alpine-base.qcow2" });
    let response = app.post_json("/api/v1/vms", small).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["error"].as_str().unwrap().contains("at least"),
        "{error}"
    );

    assert_eq!(app.db.count_vms(), 0);
    assert!(app.disk_files().is_empty());
}

/// An ISO 9660 image's bytes: zeros with the `CD001` signature at byte 32,769.
fn iso_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    bytes[32_768] = 1;
    bytes[32_769..32_774].copy_from_slice(b"CD001");
    bytes
}

/// Every entry of the ISO library, hidden ones (an upload in progress) included.
fn library_entries(app: &TestApp) -> Vec<String> {
    common::library_entries(&app.data_dir.0.join("isos"))
}

/// Waits (bounded) until the library holds exactly `expected`: a cut-off upload's partial
/// file goes when the server notices the connection is gone.
async fn library_becomes(app: &TestApp, expected: &[&str]) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut interval = tokio::time::interval(std::time::Duration::from_millis(20));
    loop {
        if library_entries(app) == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the library holds {:?}, expected {expected:?}",
            library_entries(app)
        );
        interval.tick().await;
    }
}

async fn upload(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let response = client
        .post(app.url("/api/v1/isos"))
        .query(&[("name", name)])
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Sends `head` (request line and headers) and `body` over a raw connection, then either reads
/// the answer's status or (`cut`) closes the connection without finishing.
async fn raw_upload(app: &TestApp, head: String, body: &[u8], cut: bool) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and close) before taking the whole body.
    let _ = stream.write_all(body).await;
    if cut {
        drop(stream);
        return None;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    answer.split(' ').nth(1).and_then(|code| code.parse().ok())
}

fn upload_head(app: &TestApp, name: &str, length: Option<u64>) -> String {
    let length = match length {
        Some(length) => format!("content-length: {length}\r\n"),
        None => "transfer-encoding: chunked\r\n".into(),
    };
    format!(
        "POST /api/v1/isos?name={name} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n{length}connection: close\r\n\r\n",
        app.addr, app.admin_token
    )
}

#[tokio::test]
async fn an_admin_uploads_an_iso_that_appears_whole_and_once() {
    let app = TestApp::spawn().await;
    let mut events =
        common::sse::SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    events.next(std::time::Duration::from_secs(10)).await;
    let bytes = iso_bytes(3 << 20);
    let (status, file) = upload(&app, &app.client, "installer.iso", bytes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    assert_eq!(file["name"], "installer.iso");
    assert_eq!(file["size"], 3 << 20);
    assert_eq!(
        std::fs::read(app.data_dir.0.join("isos/installer.iso")).unwrap(),
        bytes
    );
    events
        .wait_for(std::time::Duration::from_secs(10), |e| {
            e.event == "media_changed"
        })
        .await;
    let isos: Vec<Value> = app.get_json("/api/v1/isos").await;
    assert_eq!(isos.len(), 1);

    // The same name again: refused, the first one untouched.
    let (status, body) = upload(&app, &app.client, "installer.iso", iso_bytes(64 << 10)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "MEDIA_ALREADY_EXISTS");
    assert_eq!(library_entries(&app), ["installer.iso"]);
    assert_eq!(
        std::fs::metadata(app.data_dir.0.join("isos/installer.iso"))
            .unwrap()
            .len(),
        3 << 20
    );
    let audit: Value = app.get_json("/api/v1/audit?limit=20").await;
    assert!(audit.to_string().contains("iso.upload"), "{audit}");
}

#[tokio::test]
async fn refused_and_cut_off_uploads_leave_the_library_unchanged() {
    // A 1 MiB limit, so "too large" costs little.
    let app = TestApp::spawn_configured(common::TestDb::new(), "test:///default", |config| {
        config.iso_upload_max_mb = 1;
    })
    .await;
    let user = app.user("carol", Role::User, Quota::default()).await;
    let (status, _) = upload(&app, &user, "mine.iso", iso_bytes(64 << 10)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "admins only");

    for (name, body, status, code) in [
        ("zeros.iso", vec![0u8; 64 << 10], 415, "NOT_AN_ISO"),
        ("tiny.iso", b"CD001".to_vec(), 415, "NOT_AN_ISO"),
        ("big.iso", iso_bytes(2 << 20), 413, "PAYLOAD_TOO_LARGE"),
        (
            "../escape.iso",
            iso_bytes(64 << 10),
            400,
            "VALIDATION_FAILED",
        ),
        ("a/b.iso", iso_bytes(64 << 10), 400, "VALIDATION_FAILED"),
        ("/etc/x.iso", iso_bytes(64 << 10), 400, "VALIDATION_FAILED"),
        (".hidden.iso", iso_bytes(64 << 10), 400, "VALIDATION_FAILED"),
        ("notes.txt", iso_bytes(64 << 10), 400, "VALIDATION_FAILED"),
        ("", iso_bytes(64 << 10), 400, "VALIDATION_FAILED"),
    ] {
        let (got, error) = upload(&app, &app.client, name, body).await;
        assert_eq!(got.as_u16(), status, "{name:?}: {error}");
        assert_eq!(error["code"], code, "{name:?}");
        assert!(
            !error["error"].as_str().unwrap().contains("/tmp"),
            "{error}"
        );
    }
    assert!(!app.data_dir.0.join("escape.iso").exists());

    // Larger than the limit with no length announced: cut off as soon as it is too large.
    let mut chunked = Vec::new();
    for _ in 0..3 {
        let chunk = iso_bytes(1 << 20);
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(&chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let status = raw_upload(
        &app,
        upload_head(&app, "chunked.iso", None),
        &chunked,
        false,
    )
    .await;
    assert_eq!(status, Some(413));

    // Cut off in the middle: the connection closes after a third of what was announced.
    let whole = iso_bytes(768 << 10);
    raw_upload(
        &app,
        upload_head(&app, "cut.iso", Some(whole.len() as u64)),
        &whole[..256 << 10],
        true,
    )
    .await;
    library_becomes(&app, &[]).await;

    // More than the disk can hold: refused before a byte is written.
    let app = TestApp::spawn_configured(common::TestDb::new(), "test:///default", |config| {
        config.iso_upload_max_mb = u64::MAX >> 20;
    })
    .await;
    let status = raw_upload(
        &app,
        upload_head(&app, "huge.iso", Some(1 << 60)),
        &[],
        false,
    )
    .await;
    assert_eq!(status, Some(507));
    library_becomes(&app, &[]).await;
}

/// Runs one `qemu-io` command on a qcow2 image; whether it did what it says (a `read -P`
/// found its pattern).
fn qemu_io(path: &std::path::Path, command: &str) -> bool {
    let output = std::process::Command::new("qemu-io")
        .args(["-f", "qcow2", "-c", command])
        .arg(path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    output.status.success()
        && stdout.contains(" ops;")
        && !stdout.contains("Pattern verification failed")
}

async fn progress_until(
    events: &mut common::sse::SseClient,
    done: impl Fn(&Value) -> bool,
) -> Value {
    events
        .wait_for(std::time::Duration::from_secs(30), |e| {
            e.event == "operation_progress" && done(&e.data)
        })
        .await
        .data
}

#[tokio::test]
async fn a_vms_disk_becomes_a_base_image_that_clones_are_built_on() {
    let app = TestApp::spawn().await;
    let mut events =
        common::sse::SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    events.next(std::time::Duration::from_secs(10)).await;
    let source = app.create_small_vm(&unique_name("golden")).await;
    let disk = app.data_dir.0.join(format!("disks/{source}.qcow2"));
    assert!(qemu_io(&disk, "write -P 0x5a 0 1M"));

    let response = app
        .post_json("/api/v1/images", json!({ "vm": source, "name": "golden" }))
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let started: Value = response.json().await.unwrap();
    assert_eq!(started["state"], "running");
    assert_eq!(started["target"], "golden.qcow2");
    let id = started["id"].as_str().unwrap().to_string();
    let done = progress_until(&mut events, |p| {
        p["id"] == id.as_str() && p["state"] != "running"
    })
    .await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["percent"], 100);
    events
        .wait_for(std::time::Duration::from_secs(10), |e| {
            e.event == "media_changed"
        })
        .await;

    // A full, flattened copy with the VM's data; the VM keeps its own disk.
    let image = app.data_dir.0.join("images/golden.qcow2");
    let info = qemu_img_info(&image);
    assert_eq!(info["backing-filename"], Value::Null);
    assert!(qemu_io(&image, "read -P 0x5a 0 1M"));
    assert!(!qemu_io(&image, "read -P 0x00 0 1M"), "the check can fail");
    assert_eq!(common::image_counts(&app.data_dir.0), (1, 0));
    let disk_now: Value = app.get_json(&format!("/api/v1/vms/{source}/disk")).await;
    assert_eq!(disk_now["backing_image"], Value::Null);

    // A clone is built on it; the image cannot go while the clone is there.
    let clone: Value = app
        .post_for_json(
            "/api/v1/vms",
            json!({ "name": unique_name("clone"), "cpu": 1, "memory": 64, "disk_size": 1, "image": "golden.qcow2" }),
        )
        .await;
    let clone_id = clone["uuid"].as_str().unwrap();
    let clone_disk: Value = app.get_json(&format!("/api/v1/vms/{clone_id}/disk")).await;
    assert_eq!(clone_disk["backing_image"], "golden.qcow2");
    let images: Vec<Value> = app.get_json("/api/v1/images").await;
    assert_eq!(images[0]["used_by"], json!([clone["name"]]));
    let refused = app.delete("/api/v1/images/golden.qcow2").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "MEDIA_IN_USE");
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains(clone["name"].as_str().unwrap()));

    // Refusals, each leaving the library as it is.
    let user = app.user("dave", Role::User, Quota::default()).await;
    let as_user = user
        .post(app.url("/api/v1/images"))
        .json(&json!({ "vm": source, "name": "mine" }))
        .send()
        .await
        .unwrap();
    assert_eq!(as_user.status(), StatusCode::FORBIDDEN);
    for (name, status) in [
        ("golden", StatusCode::CONFLICT),
        ("../escape", StatusCode::BAD_REQUEST),
        ("a/b", StatusCode::BAD_REQUEST),
        ("<x>", StatusCode::BAD_REQUEST),
    ] {
        let response = app
            .post_json("/api/v1/images", json!({ "vm": source, "name": name }))
            .await;
        assert_eq!(response.status(), status, "{name}");
    }
    app.post_json(
        &format!("/api/v1/vms/{source}/action"),
        json!({ "action": "start" }),
    )
    .await;
    let running = app
        .post_json("/api/v1/images", json!({ "vm": source, "name": "live" }))
        .await;
    assert_eq!(
        running.status(),
        StatusCode::CONFLICT,
        "a running VM's disk changes"
    );
    assert_eq!(common::image_counts(&app.data_dir.0), (1, 0));

    // A clone whose record does not name its base (made before Limen recorded it) is found
    // by its disk's backing file.
    {
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "UPDATE vms SET base_image = NULL WHERE uuid = '{clone_id}'"
        ))
        .execute(&mut app.db.connect())
        .unwrap();
    }
    let refused = app.delete("/api/v1/images/golden.qcow2").await;
    assert_eq!(
        refused.status(),
        StatusCode::CONFLICT,
        "an unrecorded clone"
    );

    // Once the clone is gone, the image can go.
    assert!(app
        .delete(&format!("/api/v1/vms/{clone_id}"))
        .await
        .status()
        .is_success());
    assert_eq!(
        app.delete("/api/v1/images/golden.qcow2").await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(common::image_counts(&app.data_dir.0), (0, 0));
}

#[tokio::test]
async fn making_an_image_can_be_cancelled_and_leaves_nothing() {
    // Slow enough to cancel halfway: 16 MiB of data at 1 MiB/s.
    let app = TestApp::spawn_configured(common::TestDb::new(), "test:///default", |config| {
        config.image_copy_mb_per_s = 1;
    })
    .await;
    let mut events =
        common::sse::SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    events.next(std::time::Duration::from_secs(10)).await;
    let source = app.create_small_vm(&unique_name("slow")).await;
    let disk = app.data_dir.0.join(format!("disks/{source}.qcow2"));
    assert!(qemu_io(&disk, "write -P 0x11 0 16M"));
    let started: Value = app
        .post_for_json("/api/v1/images", json!({ "vm": source, "name": "never" }))
        .await;
    let id = started["id"].as_str().unwrap().to_string();
    let running: Vec<Value> = app.get_json("/api/v1/operations").await;
    assert_eq!(running.len(), 1);
    assert_eq!(running[0]["id"], id.as_str());

    // The VM is busy meanwhile: what would change or start it is refused at once, in words.
    let busy = app
        .post_json(
            &format!("/api/v1/vms/{source}/action"),
            json!({ "action": "start" }),
        )
        .await;
    assert_eq!(busy.status(), StatusCode::CONFLICT);
    let body: Value = busy.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("base image is being made"),
        "{body}"
    );
    // …and to another user it is not busy but not there at all, as any VM of someone else.
    let stranger = app
        .user(
            "stranger",
            app::auth::Role::User,
            app::auth::Quota::default(),
        )
        .await;
    let hidden = stranger
        .post(app.url(&format!("/api/v1/vms/{source}/action")))
        .json(&json!({ "action": "start" }))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), StatusCode::NOT_FOUND);
    let body: Value = hidden.json().await.unwrap();
    assert_eq!(body["code"], "VM_NOT_FOUND", "{body}");
    let cancel = app
        .post_json(&format!("/api/v1/operations/{id}/cancel"), json!({}))
        .await;
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let end = progress_until(&mut events, |p| {
        p["id"] == id.as_str() && p["state"] != "running"
    })
    .await;
    assert_eq!(end["state"], "cancelled", "{end}");
    assert_eq!(common::image_counts(&app.data_dir.0), (0, 0));
    let running: Vec<Value> = app.get_json("/api/v1/operations").await;
    assert!(running.is_empty());
    let again = app
        .post_json(&format!("/api/v1/operations/{id}/cancel"), json!({}))
        .await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    // The VM is free again.
    let started = app
        .post_json(
            &format!("/api/v1/vms/{source}/action"),
            json!({ "action": "start" }),
        )
        .await;
    assert_eq!(started.status(), StatusCode::OK);
}
