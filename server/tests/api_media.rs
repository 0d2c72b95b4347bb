//! The ISO and base-image libraries, and VMs created from them.

mod common;

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
    assert_eq!(isos, [json!({ "name": "debian-12.iso", "size": 31 })]);
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
