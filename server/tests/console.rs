//! Consoles (SPEC §7) against the real router, PostgreSQL and libvirtd, with the real test guest
//! under QEMU (TCG): RFB through the proxy, the serial console, autostart, refusals before any
//! byte of the VM flows, and the words a console closes with. The last test needs no guest:
//! libvirt's test driver.
//!
//! Needs `LIMEN_TEST_GUEST_DIR` (scripts/test-guest.sh; `make test` sets it) and libvirtd.

mod common;

use std::time::Duration;

use app::auth::{Quota, Role};
use common::process::{virsh, DomainCleanup, LIBVIRT};
use common::ws::{closing_words, connect, read_until, send, Bytes, Connected, Socket};
use common::{make_user, unique_name, TestApp, TestDb};
use serde_json::{json, Value};

fn guest_iso() -> std::path::PathBuf {
    std::path::PathBuf::from(std::env::var("LIMEN_TEST_GUEST_DIR").expect(
        "LIMEN_TEST_GUEST_DIR is not set: run `make test`, or scripts/test-guest.sh DIR and export it",
    ))
    .join("limen-guest.iso")
}

fn ws_url(app: &TestApp, path: &str) -> String {
    format!("ws://{}{path}", app.addr)
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

async fn open(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Socket {
    match connect(&ws_url(app, path), headers).await {
        Connected::Open(socket, _) => *socket,
        Connected::Refused(status, body) => panic!("{path}: refused {status}: {body}"),
    }
}

async fn refused(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    match connect(&ws_url(app, path), headers).await {
        Connected::Refused(status, body) => (status, body["code"].as_str().unwrap().to_string()),
        Connected::Open(..) => panic!("{path}: accepted"),
    }
}

/// The RFB handshake up to the server's ServerInit (RFC 6143 §7.1–7.3): the version, the
/// security type None (libvirt's VNC server here has no password), ClientInit; returns the
/// desktop's size and name.
async fn rfb_handshake(socket: &mut Socket) -> (u16, u16, String) {
    let mut bytes = Bytes::new();
    assert_eq!(bytes.take(socket, 12).await, b"RFB 003.008\n");
    send(socket, b"RFB 003.008\n").await;
    let count = bytes.take(socket, 1).await[0] as usize;
    assert!(count > 0, "the server offers security types");
    let types = bytes.take(socket, count).await;
    assert!(types.contains(&1), "security type None: {types:?}");
    send(socket, &[1]).await;
    assert_eq!(
        bytes.take(socket, 4).await,
        [0, 0, 0, 0],
        "SecurityResult OK"
    );
    send(socket, &[1]).await; // ClientInit: shared
    let init = bytes.take(socket, 24).await;
    let width = u16::from_be_bytes([init[0], init[1]]);
    let height = u16::from_be_bytes([init[2], init[3]]);
    let name_length = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    let name = String::from_utf8(bytes.take(socket, name_length).await).unwrap();
    (width, height, name)
}

async fn status_of(app: &TestApp, id: &str) -> String {
    let vm: Value = app.get_json(&format!("/api/v1/vms/{id}")).await;
    vm["status"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guests_consoles_start_it_speak_rfb_and_serial_and_refuse_strangers() {
    let app = TestApp::spawn_with(TestDb::new(), LIBVIRT).await;
    std::fs::copy(guest_iso(), app.data_dir.0.join("isos/limen-guest.iso")).unwrap();
    let name = unique_name("console");
    let _cleanup = DomainCleanup(vec![name.clone()]);
    let vm: Value = app
        .post_for_json(
            "/api/v1/vms",
            json!({ "name": name, "cpu": 1, "memory": 256, "disk_size": 1,
                    "iso": "limen-guest.iso" }),
        )
        .await;
    let id = vm["uuid"].as_str().expect("created").to_string();
    assert_eq!(vm["status"], "stopped");
    let admin = bearer(&app.admin_token);
    let auth = [("authorization", admin.as_str())];

    // The serial console of a stopped VM starts it: the kernel's log from its first line,
    // then a shell that answers what is typed.
    let mut serial = open(&app, &format!("/api/v1/vms/{id}/serial"), &auth).await;
    read_until(&mut serial, "Linux version", Duration::from_secs(60)).await;
    assert_eq!(
        status_of(&app, &id).await,
        "running",
        "started by the console"
    );
    read_until(&mut serial, "limen-guest: booted", Duration::from_secs(120)).await;
    // The shell on the serial port starts after the init says so; type until it answers.
    let answered = async {
        loop {
            send(&mut serial, b"echo limen-$((6*7))\n").await;
            let wait = read_until(&mut serial, "limen-42", Duration::from_secs(60));
            if tokio::time::timeout(Duration::from_secs(3), wait)
                .await
                .is_ok()
            {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), answered)
        .await
        .expect("the guest's shell answered on the serial console");

    // The VM stops: the console says so, in words, and closes.
    virsh(&["destroy", &name]);
    let (said, close) = closing_words(&mut serial).await;
    assert_eq!(said.unwrap()["code"], "VM_NOT_RUNNING");
    assert_eq!(close, Some((1000, "The VM stopped.".into())));

    // The graphical console of a stopped VM starts it too, and speaks RFB as noVNC does.
    let headers = [
        ("authorization", admin.as_str()),
        ("sec-websocket-protocol", "binary"),
    ];
    let (mut vnc, protocol) = match connect(
        &ws_url(&app, &format!("/api/v1/vms/{id}/console")),
        &headers,
    )
    .await
    {
        Connected::Open(socket, protocol) => (*socket, protocol),
        Connected::Refused(status, body) => panic!("refused {status}: {body}"),
    };
    assert_eq!(protocol.as_deref(), Some("binary"));
    let (width, height, desktop) = rfb_handshake(&mut vnc).await;
    assert!(width > 0 && height > 0, "{width}x{height}");
    assert!(
        desktop.contains(&name),
        "QEMU names the desktop after the domain: {desktop}"
    );
    // The VM stops under an open graphical console: said in words too.
    virsh(&["destroy", &name]);
    let (said, close) = closing_words(&mut vnc).await;
    assert_eq!(said.unwrap()["code"], "VM_NOT_RUNNING");
    assert_eq!(close, Some((1000, "The VM stopped.".into())));

    // Refused before any byte of the VM flows: nobody, another user, a cross-site page with
    // the cookie, a ticket used twice, an expired one, one for another VM.
    let console = format!("/api/v1/vms/{id}/console");
    assert_eq!(
        refused(&app, &console, &[]).await,
        (401, "UNAUTHORIZED".into())
    );
    let other = make_user(&app.accounts, "mallory", Role::User, Quota::default()).await;
    let other = bearer(&other);
    assert_eq!(
        refused(&app, &console, &[("authorization", other.as_str())]).await,
        (404, "VM_NOT_FOUND".into())
    );
    let cookie = format!("limen_session={}", app.admin_token);
    let own_origin = format!("http://{}", app.addr);
    for origin in [Some("https://evil.example"), Some("null"), None] {
        let mut headers = vec![("cookie", cookie.as_str())];
        headers.extend(origin.map(|origin| ("origin", origin)));
        assert_eq!(
            refused(&app, &console, &headers).await,
            (403, "FORBIDDEN".into()),
            "cookie with origin {origin:?}"
        );
    }
    drop(
        open(
            &app,
            &console,
            &[("cookie", cookie.as_str()), ("origin", own_origin.as_str())],
        )
        .await,
    );
    let ticket: Value = app
        .post_for_json(&format!("/api/v1/vms/{id}/console/ticket"), json!({}))
        .await;
    let ticket = ticket["ticket"].as_str().unwrap().to_string();
    let with_ticket = format!("{console}?ticket={ticket}");
    let mut by_ticket = open(&app, &with_ticket, &[]).await;
    assert_eq!(
        Bytes::new().take(&mut by_ticket, 12).await,
        b"RFB 003.008\n"
    );
    drop(by_ticket);
    assert_eq!(
        refused(&app, &with_ticket, &[]).await,
        (401, "UNAUTHORIZED".into())
    );
    let expiring: Value = app
        .post_for_json(&format!("/api/v1/vms/{id}/console/ticket"), json!({}))
        .await;
    app.vms.expire_console_tickets();
    let expired = format!("{console}?ticket={}", expiring["ticket"].as_str().unwrap());
    assert_eq!(
        refused(&app, &expired, &[]).await,
        (401, "UNAUTHORIZED".into())
    );
    // A ticket is for one VM: not another one the same caller may see.
    let second = app.create_small_vm(&unique_name("second")).await;
    let elsewhere: Value = app
        .post_for_json(&format!("/api/v1/vms/{id}/console/ticket"), json!({}))
        .await;
    let another_vm = format!(
        "/api/v1/vms/{second}/console?ticket={}",
        elsewhere["ticket"].as_str().unwrap()
    );
    assert_eq!(
        refused(&app, &another_vm, &[]).await,
        (401, "UNAUTHORIZED".into())
    );
    // A ticket lets in its holder as they are when it is used: not after they logged out…
    let login = |username: &'static str| {
        let client = app.client.clone();
        let url = app.url("/api/v1/auth/login");
        async move {
            let response: Value = client
                .post(url)
                .json(&json!({ "username": username, "password": common::PASSWORD }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            response["token"].as_str().unwrap().to_string()
        }
    };
    let leaving = common::client_with_token(&login(common::ADMIN).await);
    let ticket: Value = common::post_json_as(
        &leaving,
        app.url(&format!("/api/v1/vms/{id}/console/ticket")),
        json!({}),
    )
    .await;
    leaving
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    let after_logout = format!("{console}?ticket={}", ticket["ticket"].as_str().unwrap());
    assert_eq!(
        refused(&app, &after_logout, &[]).await,
        (401, "UNAUTHORIZED".into())
    );
    // …nor with the admin role they lost meanwhile (an API token survives a role change).
    common::create_user(&app.accounts, "boss", Role::Admin, Quota::default()).await;
    let boss_session = common::client_with_token(&login("boss").await);
    let token: Value = common::post_json_as(
        &boss_session,
        app.url("/api/v1/tokens"),
        json!({ "name": "console" }),
    )
    .await;
    let boss = common::client_with_token(token["secret"].as_str().unwrap());
    let ticket: Value = common::post_json_as(
        &boss,
        app.url(&format!("/api/v1/vms/{id}/console/ticket")),
        json!({}),
    )
    .await;
    let demoted = app
        .client
        .patch(app.url("/api/v1/users/boss"))
        .json(&json!({ "role": "user" }))
        .send()
        .await
        .unwrap();
    assert_eq!(demoted.status(), 200);
    let as_demoted = format!("{console}?ticket={}", ticket["ticket"].as_str().unwrap());
    assert_eq!(
        refused(&app, &as_demoted, &[]).await,
        (404, "VM_NOT_FOUND".into())
    );
    // A console ends when its credential does: a logout closes it, saying why.
    let session = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({ "username": common::ADMIN, "password": common::PASSWORD }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut watched = open(&app, &console, &[("authorization", &bearer(&session))]).await;
    assert_eq!(Bytes::new().take(&mut watched, 12).await, b"RFB 003.008\n");
    let logout = common::client_with_token(&session)
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let (said, close) = closing_words(&mut watched).await;
    assert_eq!(said.unwrap()["code"], "UNAUTHORIZED");
    assert_eq!(close.map(|close| close.0), Some(1008));

    // Every session is in the audit log: opened, closed, and how; refusals too. A session's
    // close is written as it ends, a moment after the client saw it go: read until every
    // opening has its close (bounded).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let actions = loop {
        let audit: Value = app.get_json("/api/v1/audit?limit=200").await;
        let actions: Vec<(String, String)> = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry["target"] == id.as_str())
            .map(|entry| {
                (
                    entry["action"].as_str().unwrap().to_string(),
                    entry["detail"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let of = |action: &str| actions.iter().filter(|(a, _)| a == action).count();
        let opened = actions
            .iter()
            .filter(|(a, detail)| a == "vm.console" && detail.contains("console: opened"))
            .count();
        if opened == of("vm.console.close") || std::time::Instant::now() > deadline {
            break actions;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let count = |action: &str, part: &str| {
        actions
            .iter()
            .filter(|(a, detail)| a == action && detail.contains(part))
            .count()
    };
    let opened = count("vm.console", "console: opened");
    assert!(opened >= 5, "{actions:?}");
    assert_eq!(
        opened,
        count("vm.console.close", ""),
        "every opening has its close: {actions:?}"
    );
    assert!(
        count("vm.console.close", "the VM stopped") >= 2,
        "{actions:?}"
    );
    assert_eq!(
        count("vm.console.close", "session or token ended"),
        1,
        "{actions:?}"
    );
    assert!(count("vm.console", "console: refused") >= 8, "{actions:?}");
    assert!(
        count("vm.start", "") >= 2,
        "autostart is a start: {actions:?}"
    );

    // A graceful shutdown closes open consoles with 1001.
    let mut last = open(&app, &console, &auth).await;
    assert_eq!(Bytes::new().take(&mut last, 12).await, b"RFB 003.008\n");
    app.shutdown.cancel();
    let (_, close) = closing_words(&mut last).await;
    assert_eq!(close, Some((1001, "Limen is shutting down.".into())));

    let deleted = app.delete(&format!("/api/v1/vms/{id}")).await;
    assert!(deleted.status().is_success());
}

/// A VM that cannot start: the console is accepted (it might start), then says why it could
/// not, with libvirt's reason in words and no host path.
#[tokio::test(flavor = "multi_thread")]
async fn a_vm_that_cannot_start_says_why_on_its_console() {
    let app = TestApp::spawn_with(TestDb::new(), LIBVIRT).await;
    let name = unique_name("nostart");
    let _cleanup = DomainCleanup(vec![name.clone()]);
    let id = app.create_small_vm(&name).await;
    std::fs::remove_file(app.data_dir.0.join(format!("disks/{id}.qcow2"))).unwrap();
    let admin = bearer(&app.admin_token);
    let mut console = open(
        &app,
        &format!("/api/v1/vms/{id}/console"),
        &[("authorization", admin.as_str())],
    )
    .await;
    let (said, close) = closing_words(&mut console).await;
    let said = said.expect("a reason before the close");
    assert_eq!(said["code"], "VM_START_FAILED");
    let sentence = said["error"].as_str().unwrap();
    assert!(sentence.contains("missing"), "{sentence}");
    assert!(
        !sentence.contains(app.data_dir.0.to_str().unwrap()),
        "{sentence}"
    );
    assert_eq!(close.map(|close| close.0), Some(1011));
    assert_eq!(status_of(&app, &id).await, "stopped");
}

/// libvirt's test driver (no guest): with autostart off a stopped VM's console is refused
/// before the upgrade, as plain HTTP; a console that cannot be reached says so after it.
#[tokio::test]
async fn refusals_that_need_no_guest() {
    let app = TestApp::spawn_configured(TestDb::new(), "test:///default", |config| {
        config.console_autostart = false;
    })
    .await;
    let id = app.create_small_vm(&unique_name("idle")).await;
    let admin = bearer(&app.admin_token);
    let auth = [("authorization", admin.as_str())];
    for endpoint in ["console", "serial"] {
        let path = format!("/api/v1/vms/{id}/{endpoint}");
        assert_eq!(
            refused(&app, &path, &auth).await,
            (409, "VM_NOT_RUNNING".into())
        );
    }
    // A ticket is refused with the same words, where a browser can read them.
    let ticket = app
        .post_json(&format!("/api/v1/vms/{id}/console/ticket"), json!({}))
        .await;
    assert_eq!(ticket.status(), 409);
    let body: Value = ticket.json().await.unwrap();
    assert_eq!(body["code"], "VM_NOT_RUNNING");
    assert!(
        body["error"].as_str().unwrap().contains("start it"),
        "{body}"
    );
    // Running, but the test driver has neither a VNC server nor a console stream.
    let started = app
        .post_json(
            &format!("/api/v1/vms/{id}/action"),
            json!({ "action": "start" }),
        )
        .await;
    assert_eq!(started.status(), 200);
    // Not a WebSocket request at all: said so.
    let plain = app.get(&format!("/api/v1/vms/{id}/console")).await;
    assert_eq!(plain.status(), 426);
    let body: Value = plain.json().await.unwrap();
    assert_eq!(body["code"], "UPGRADE_REQUIRED");
    for (endpoint, code) in [
        ("console", "VNC_UNAVAILABLE"),
        ("serial", "SERIAL_UNAVAILABLE"),
    ] {
        let mut socket = open(&app, &format!("/api/v1/vms/{id}/{endpoint}"), &auth).await;
        let (said, close) = closing_words(&mut socket).await;
        assert_eq!(said.unwrap()["code"], code, "{endpoint}");
        assert!(close.is_some(), "{endpoint}");
    }
}
