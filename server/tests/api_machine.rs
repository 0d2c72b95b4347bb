//! A VM's install media, boot order, installation status, disk and role (seed 003, 004), on
//! libvirt's test driver: the API's shape, its rules, hostile input, and libvirt's definition
//! kept in step both ways. Real QEMU proves the guest-visible parts (tests/real_guest.rs).

mod common;

use std::time::Duration;

use app::auth::{Quota, Role};
use common::sse::SseClient;
use common::{get_json_as, unique_name, write_iso, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

async fn app_with_isos() -> TestApp {
    let app = TestApp::spawn().await;
    for name in ["installer.iso", "rescue.iso"] {
        write_iso(&app.data_dir.0.join("isos").join(name), 64 * 1024);
    }
    app
}

fn domain_xml(app: &TestApp, uuid: &str) -> String {
    let id = uuid::Uuid::parse_str(uuid).unwrap();
    app.libvirt()
        .lookup_domain_by_uuid(id)
        .unwrap()
        .xml_desc(virt::sys::VIR_DOMAIN_XML_INACTIVE)
        .unwrap()
}

async fn vm(app: &TestApp, uuid: &str) -> Value {
    app.get_json(&format!("/api/v1/vms/{uuid}")).await
}

async fn post(app: &TestApp, path: String, body: Value) -> (StatusCode, Value) {
    let response = app.post_json(&path, body).await;
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn media_is_attached_and_ejected_by_library_name_in_libvirt_and_the_record() {
    let app = app_with_isos().await;
    let uuid = app.create_small_vm(&unique_name("media")).await;
    let iso_dir = app.data_dir.0.canonicalize().unwrap().join("isos");

    let (status, attached) = post(
        &app,
        format!("/api/v1/vms/{uuid}/media/attach"),
        json!({ "iso": "installer.iso" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{attached}");
    assert_eq!(attached["current_media"], "installer.iso");
    let xml = domain_xml(&app, &uuid);
    assert!(
        xml.contains(&format!("{}", iso_dir.join("installer.iso").display())),
        "{xml}"
    );
    let isos: Vec<Value> = app.get_json("/api/v1/isos").await;
    let installer = isos.iter().find(|i| i["name"] == "installer.iso").unwrap();
    assert_eq!(installer["used_by"], json!([attached["name"]]));

    // An ISO in a drive cannot be deleted; the refusal names the VM.
    let refused = app.delete("/api/v1/isos/installer.iso").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "MEDIA_IN_USE");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains(attached["name"].as_str().unwrap()),
        "{body}"
    );

    // Changing it replaces it; ejecting empties the drive.
    let (_, changed) = post(
        &app,
        format!("/api/v1/vms/{uuid}/media/attach"),
        json!({ "iso": "rescue.iso" }),
    )
    .await;
    assert_eq!(changed["current_media"], "rescue.iso");
    let (status, ejected) = post(&app, format!("/api/v1/vms/{uuid}/media/detach"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ejected["current_media"], Value::Null);
    assert!(!domain_xml(&app, &uuid).contains("rescue.iso"));

    // Free now: deleted, and gone from the library.
    assert_eq!(
        app.delete("/api/v1/isos/installer.iso").await.status(),
        StatusCode::NO_CONTENT
    );
    assert!(!iso_dir.join("installer.iso").exists());
    assert_eq!(
        app.delete("/api/v1/isos/installer.iso").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn hostile_media_names_and_other_peoples_vms_change_nothing() {
    let app = app_with_isos().await;
    std::fs::write(app.data_dir.0.join("secret.iso"), b"outside the library").unwrap();
    let uuid = app.create_small_vm(&unique_name("hostile")).await;
    let before = domain_xml(&app, &uuid);
    for (iso, status) in [
        ("../secret.iso", StatusCode::BAD_REQUEST),
        ("/etc/passwd", StatusCode::BAD_REQUEST),
        ("isos/installer.iso", StatusCode::BAD_REQUEST),
        ("<script>.iso", StatusCode::NOT_FOUND),
        ("missing.iso", StatusCode::NOT_FOUND),
    ] {
        let (got, body) = post(
            &app,
            format!("/api/v1/vms/{uuid}/media/attach"),
            json!({ "iso": iso }),
        )
        .await;
        assert_eq!(got, status, "{iso}: {body}");
        assert!(!body["error"].as_str().unwrap().contains("/tmp"), "{body}");
    }
    for name in ["..%2Fsecret.iso", "secret.iso"] {
        let response = app.delete(&format!("/api/v1/isos/{name}")).await;
        assert!(response.status().is_client_error(), "{name}");
    }
    assert!(app.data_dir.0.join("secret.iso").exists());
    assert_eq!(domain_xml(&app, &uuid), before);

    // Another user's VM is not found, whatever the verb.
    let other = app.user("mallory", Role::User, Quota::default()).await;
    for (path, body) in [
        ("media/attach", json!({ "iso": "installer.iso" })),
        ("boot-order", json!({ "boot_order": "cdrom" })),
        ("disk/resize", json!({ "size_gb": 5 })),
        ("complete-installation", json!({})),
    ] {
        let response = other
            .post(app.url(&format!("/api/v1/vms/{uuid}/{path}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = other
        .put(app.url(&format!("/api/v1/vms/{uuid}/role")))
        .json(&json!({ "role": "mine" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(domain_xml(&app, &uuid), before);
    let unchanged = vm(&app, &uuid).await;
    assert_eq!(unchanged["role"], Value::Null);
    assert_eq!(unchanged["disk_size"], 1);
}

#[tokio::test]
async fn the_boot_order_is_libvirts_and_an_empty_drive_cannot_boot_alone() {
    let app = app_with_isos().await;
    let uuid = app.create_small_vm(&unique_name("boot")).await;
    let report: Value = app
        .get_json(&format!("/api/v1/vms/{uuid}/boot-order"))
        .await;
    assert_eq!(report["boot_order"], "cdrom_hd");
    assert!(
        report["warning"].as_str().unwrap().contains("empty"),
        "{report}"
    );

    let (status, report) = post(
        &app,
        format!("/api/v1/vms/{uuid}/boot-order"),
        json!({ "boot_order": "hd" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["boot_order"], "hd");
    assert_eq!(report["applies_at_next_boot"], false, "stopped");
    let xml = domain_xml(&app, &uuid);
    assert_eq!(xml.matches("<boot dev=").count(), 1, "{xml}");
    assert!(xml.contains("<boot dev='hd'/>"), "{xml}");
    assert_eq!(vm(&app, &uuid).await["boot_order"], "hd");

    // Not a boot order: refused, nothing changed.
    let (status, _) = post(
        &app,
        format!("/api/v1/vms/{uuid}/boot-order"),
        json!({ "boot_order": "network" }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(domain_xml(&app, &uuid), xml);

    // Created to start from an empty CD-ROM drive alone: refused as the start would be.
    let (status, body) = post(
        &app,
        "/api/v1/vms".into(),
        json!({ "name": unique_name("nocd"), "cpu": 1, "memory": 64, "disk_size": 1,
                "boot_order": "cdrom", "start": true }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["error"].as_str().unwrap().contains("empty"), "{body}");

    // CD-ROM only with an empty drive: set, but a start is refused with a sentence.
    post(
        &app,
        format!("/api/v1/vms/{uuid}/boot-order"),
        json!({ "boot_order": "cdrom" }),
    )
    .await;
    let (status, body) = post(
        &app,
        format!("/api/v1/vms/{uuid}/action"),
        json!({ "action": "start" }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "INVALID_STATE");
    assert!(body["error"].as_str().unwrap().contains("empty"), "{body}");
    assert_eq!(vm(&app, &uuid).await["status"], "stopped");

    // The same with media in: it starts, and the change is "at the next cold boot".
    post(
        &app,
        format!("/api/v1/vms/{uuid}/media/attach"),
        json!({ "iso": "installer.iso" }),
    )
    .await;
    let (status, body) = post(
        &app,
        format!("/api/v1/vms/{uuid}/action"),
        json!({ "action": "start" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, report) = post(
        &app,
        format!("/api/v1/vms/{uuid}/boot-order"),
        json!({ "boot_order": "hd" }),
    )
    .await;
    assert_eq!(report["applies_at_next_boot"], true, "{report}");
}

#[tokio::test]
async fn an_installation_goes_from_the_installer_boot_to_installed_with_next_steps() {
    let app = app_with_isos().await;
    let name = unique_name("install");
    let created: Value = app
        .post_for_json(
            "/api/v1/vms",
            json!({ "name": name, "cpu": 1, "memory": 64, "disk_size": 1, "iso": "installer.iso" }),
        )
        .await;
    let uuid = created["uuid"].as_str().unwrap().to_string();
    let path = format!("/api/v1/vms/{uuid}/installation-status");
    let report: Value = app.get_json(&path).await;
    assert_eq!(report["installation_status"], "NotInstalled");

    // The first start from the installer makes it Installing.
    let (status, _) = post(
        &app,
        format!("/api/v1/vms/{uuid}/action"),
        json!({ "action": "start" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let report: Value = app.get_json(&path).await;
    assert_eq!(report["installation_status"], "Installing");

    // Completing changes nothing else, and suggests what to change.
    let response = app
        .client
        .post(app.url(&format!("/api/v1/vms/{uuid}/complete-installation")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let report: Value = response.json().await.unwrap();
    assert_eq!(report["installation_status"], "Installed");
    assert_eq!(report["boot_order"], "cdrom_hd");
    assert_eq!(report["current_media"], "installer.iso");
    assert_eq!(
        report["suggestions"],
        json!(["boot_from_disk", "eject_media"])
    );
    assert!(domain_xml(&app, &uuid).contains("installer.iso"));

    // A finished installation cannot fail; completing again is harmless.
    let (status, body) = post(
        &app,
        format!("/api/v1/vms/{uuid}/complete-installation"),
        json!({ "failed": true }),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = post(
        &app,
        format!("/api/v1/vms/{uuid}/complete-installation"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let audit: Value = app.get_json("/api/v1/audit?limit=50").await;
    let text = audit.to_string();
    assert!(
        text.contains("vm.installation.complete") && text.contains(&uuid),
        "{audit}"
    );
}

#[tokio::test]
async fn a_definition_changed_behind_limens_back_is_seen_and_published() {
    let app = app_with_isos().await;
    let uuid = app.create_small_vm(&unique_name("behind")).await;
    let mut events = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    events.next(WAIT).await.expect("the snapshot");

    // As `virsh edit` or `virsh change-media --config` would: a new persistent definition.
    let rescue = app
        .data_dir
        .0
        .canonicalize()
        .unwrap()
        .join("isos/rescue.iso");
    let xml = domain_xml(&app, &uuid)
        .replace(
            "<disk type='file' device='cdrom'>",
            &format!(
                "<disk type='file' device='cdrom'><source file='{}'/>",
                rescue.display()
            ),
        )
        .replace("<boot dev='cdrom'/>", "");
    app.libvirt().define_domain_xml(&xml).unwrap();

    let event = events
        .wait_for(WAIT, |event| {
            event.event == "vm_updated"
                && event.data["uuid"] == uuid.as_str()
                && event.data["current_media"] == "rescue.iso"
        })
        .await;
    assert_eq!(event.data["boot_order"], "hd");
    let now = vm(&app, &uuid).await;
    assert_eq!(now["current_media"], "rescue.iso");
    assert_eq!(now["boot_order"], "hd");
}

#[tokio::test]
async fn a_disk_grows_within_the_quota_and_never_shrinks() {
    let app = TestApp::spawn().await;
    let alice = app
        .user(
            "alice",
            Role::User,
            Quota {
                max_disk_gb: Some(3),
                ..Quota::default()
            },
        )
        .await;
    let created: Value = common::post_json_as(
        &alice,
        app.url("/api/v1/vms"),
        json!({ "name": unique_name("disk"), "cpu": 1, "memory": 64, "disk_size": 1 }),
    )
    .await;
    let uuid = created["uuid"].as_str().unwrap().to_string();
    let disk: Value = get_json_as(&alice, app.url(&format!("/api/v1/vms/{uuid}/disk"))).await;
    assert_eq!(disk["format"], "qcow2");
    assert_eq!(disk["virtual_size"], 1u64 << 30);
    assert_eq!(disk["path"], format!("disks/{uuid}.qcow2"));
    assert_eq!(disk["backing_image"], Value::Null);

    let resize = |size: Value| {
        alice
            .post(app.url(&format!("/api/v1/vms/{uuid}/disk/resize")))
            .json(&json!({ "size_gb": size }))
            .send()
    };
    let grown = resize(json!(2)).await.unwrap();
    assert_eq!(grown.status(), StatusCode::OK);
    let grown: Value = grown.json().await.unwrap();
    assert_eq!(grown["virtual_size"], 2u64 << 30);
    assert_eq!(vm(&app, &uuid).await["disk_size"], 2);

    for (size, status, code) in [
        (json!(1), StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        (json!(2), StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        (json!(4), StatusCode::FORBIDDEN, "QUOTA_EXCEEDED"),
        (
            json!(u64::MAX),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (json!(-1), StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
    ] {
        let response = resize(size.clone()).await.unwrap();
        assert_eq!(response.status(), status, "{size}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{size}: {body}");
    }
    let disk: Value = get_json_as(&alice, app.url(&format!("/api/v1/vms/{uuid}/disk"))).await;
    assert_eq!(disk["virtual_size"], 2u64 << 30, "refusals changed nothing");
    assert_eq!(vm(&app, &uuid).await["disk_size"], 2);
}

#[tokio::test]
async fn roles_are_assigned_counted_and_filtered_from_the_same_records() {
    let app = TestApp::spawn().await;
    let web = [
        app.create_small_vm(&unique_name("web")).await,
        app.create_small_vm(&unique_name("web")).await,
    ];
    let db = app.create_small_vm(&unique_name("db")).await;
    let set = |uuid: String, role: Value| {
        app.client
            .put(app.url(&format!("/api/v1/vms/{uuid}/role")))
            .json(&json!({ "role": role }))
            .send()
    };
    for uuid in &web {
        let response = set(uuid.clone(), json!("web")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let vm: Value = response.json().await.unwrap();
        assert_eq!(vm["role"], "web");
    }
    set(db.clone(), json!("db")).await.unwrap();
    for hostile in ["<script>", "../etc", "", " web", &"x".repeat(64)] {
        let response = set(db.clone(), json!(hostile)).await.unwrap();
        if hostile.is_empty() {
            // Empty clears it, like null.
            assert_eq!(response.status(), StatusCode::OK);
            set(db.clone(), json!("db")).await.unwrap();
            continue;
        }
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{hostile:?}");
    }
    assert_eq!(vm(&app, &db).await["role"], "db");

    let roles: Value = app.get_json("/api/v1/roles").await;
    assert_eq!(
        roles,
        json!([{ "role": "db", "count": 1 }, { "role": "web", "count": 2 }])
    );
    let listed: Vec<Value> = app.get_json("/api/v1/vms?role=web").await;
    let mut uuids: Vec<&str> = listed
        .iter()
        .map(|vm| vm["uuid"].as_str().unwrap())
        .collect();
    uuids.sort_unstable();
    let mut expected: Vec<&str> = web.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(uuids, expected);
    let none: Vec<Value> = app.get_json("/api/v1/vms?role=nobody").await;
    assert!(none.is_empty());

    // A user sees and counts only their own.
    let bob = app.user("bob", Role::User, Quota::default()).await;
    let theirs: Value = get_json_as(&bob, app.url("/api/v1/roles")).await;
    assert_eq!(theirs, json!([]));
    let theirs: Vec<Value> = get_json_as(&bob, app.url("/api/v1/vms?role=web")).await;
    assert!(theirs.is_empty());

    // Cleared with null.
    let cleared: Value = set(web[0].clone(), Value::Null)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(cleared["role"], Value::Null);
    let audit: Value = app.get_json("/api/v1/audit?limit=50").await;
    let text = audit.to_string();
    assert!(text.contains("vm.role") && text.contains("web"), "{audit}");
}
