//! Install media, boot order, base images made from a VM and an online disk resize, proved on
//! real QEMU guests (real libvirtd, TCG) through the REST API and the serial console: what the
//! guest prints on its serial port says what it booted, and what it reads from its own sysfs
//! says what size its disk has.
//!
//! The media (`scripts/test-guest.sh`): `limen-menu.iso` and `limen-rescue.iso` show only a
//! GRUB menu ("Limen Test Installer", "Limen Rescue Shell") for an hour, on the serial port
//! too; `limen-guest.qcow2` boots Debian's cloud kernel with a busybox init that says
//! "limen-guest: booted" and runs a shell on the serial port.
//!
//! Needs `LIMEN_TEST_GUEST_DIR` (the output of scripts/test-guest.sh; `make test` sets it) and a
//! libvirt daemon on qemu:///system.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::guest::{
    guest_query, libvirt_capacity, serial, step, stock_libraries, Api, BOOTED, BOOT_LIMIT, GIB,
};
use common::process::{virsh, DomainCleanup, LIBVIRT};
use common::sse::SseClient;
use common::ws::{read_until, send, Socket};
use common::{unique_name, TestApp, TestDb};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// The first entry of each menu ISO's GRUB menu.
const MENU_TITLE: &str = "Limen Test Installer";
const RESCUE_TITLE: &str = "Limen Rescue Shell";
/// The test media each VM may use, by library.
const MEDIA: [(&str, &str); 3] = [
    ("isos", "limen-menu.iso"),
    ("isos", "limen-rescue.iso"),
    ("images", "limen-guest.qcow2"),
];

/// Reads the serial stream until one of `needles` arrives (within `limit`); returns all read
/// and which needle came first.
async fn read_until_any(serial: &mut Socket, needles: &[&str], limit: Duration) -> (String, usize) {
    let mut text = String::new();
    let wait = async {
        loop {
            match serial.next().await {
                Some(Ok(Message::Binary(bytes))) => {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                    let found = needles
                        .iter()
                        .enumerate()
                        .filter_map(|(index, needle)| Some((text.find(needle)?, index)))
                        .min();
                    if let Some((_, index)) = found {
                        return index;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("waiting for {needles:?}: {other:?}\nso far: {text}"),
            }
        }
    };
    match tokio::time::timeout(limit, wait).await {
        Ok(index) => (text, index),
        Err(_) => panic!("none of {needles:?} arrived within {limit:?}; so far:\n{text}"),
    }
}

/// GRUB's countdown line, redrawn every second under its menu.
const COUNTDOWN: &str = "will be executed automatically in";

/// Reads a just opened serial console of a VM that has just been started (no other boot's
/// output can come) until GRUB's menu shows `title`; returns what was read. GRUB draws
/// its menu once, then only the countdown: a console that connected after the menu was drawn
/// (the guest runs on while the console opens) sees the countdown without the title. Then the
/// test has GRUB draw the menu again, as a person would: `c` opens its command line, Escape
/// leaves it, and the menu is drawn anew.
async fn read_menu(serial: &mut Socket, title: &str) -> String {
    let (mut shown, first) = read_until_any(serial, &[title, COUNTDOWN], BOOT_LIMIT).await;
    if first == 1 {
        eprintln!("the menu was drawn before the console connected: asking GRUB to redraw it");
        send(serial, b"c").await;
        shown.push_str(&read_until(serial, "grub> ", BOOT_LIMIT).await);
        send(serial, b"\x1b").await;
        shown.push_str(&read_until(serial, title, BOOT_LIMIT).await);
    }
    shown
}

/// The size of the guest's disk as the guest sees it, in 512-byte sectors.
async fn guest_disk_sectors(serial: &mut Socket) -> u64 {
    guest_query(serial, "cat /sys/block/vda/size").await.0
}

/// The source of the VM's CD-ROM drive in libvirt's live definition (`-` when empty).
fn libvirt_cdrom(name: &str) -> String {
    let blocks = virsh(&["domblklist", name]);
    blocks
        .lines()
        .find_map(|line| line.trim().strip_prefix("sda"))
        .map(|source| source.trim().to_string())
        .unwrap_or_else(|| panic!("no CD-ROM drive in {blocks}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn media_boot_order_templates_and_an_online_resize_work_on_real_guests() {
    let began = Instant::now();
    let app = TestApp::spawn_with(TestDb::new(), LIBVIRT).await;
    stock_libraries(&app, &MEDIA);
    let api = Api { app: &app };
    let name = unique_name("media");
    let clone_name = unique_name("templated");
    let template = unique_name("tpl");
    let _cleanup = DomainCleanup(vec![name.clone(), clone_name.clone()]);

    // 1. A copy-on-write clone of the base image with the menu ISO in its drive, booting the
    // CD-ROM first: its serial console (which starts it) shows the ISO's GRUB menu.
    let (id, vm) = api
        .create(json!({
            "name": name, "cpu": 1, "memory": 256, "disk_size": 1,
            "image": "limen-guest.qcow2", "iso": "limen-menu.iso", "boot_order": "cdrom_hd",
        }))
        .await;
    assert_eq!(vm["status"], "stopped");
    assert_eq!(vm["current_media"], "limen-menu.iso");
    assert_eq!(vm["boot_order"], "cdrom_hd");
    let disk = api.disk(&id).await;
    assert_eq!(disk["backing_image"], "limen-guest.qcow2", "{disk}");
    assert_eq!(disk["virtual_size"], GIB, "{disk}");
    step(
        began,
        "created from the base image with limen-menu.iso; booting",
    );
    let mut console = serial(&app, &id).await;
    let shown = read_menu(&mut console, MENU_TITLE).await;
    assert!(!shown.contains(BOOTED), "the disk booted first:\n{shown}");
    assert_eq!(api.vm(&id).await["status"], "running");
    step(began, "limen-menu.iso's GRUB menu is on the serial console");
    let installation = api
        .get(&format!("/api/v1/vms/{id}/installation-status"))
        .await;
    assert_eq!(
        installation["installation_status"], "Installing",
        "booted its installer: {installation}"
    );

    // 2. Another ISO put in the drive while the VM runs (live, and in the definition) is what
    // the firmware finds after a reset.
    let vm = api
        .post(
            &format!("/api/v1/vms/{id}/media/attach"),
            json!({ "iso": "limen-rescue.iso" }),
            200,
        )
        .await;
    assert_eq!(vm["current_media"], "limen-rescue.iso", "{vm}");
    assert_eq!(api.vm(&id).await["current_media"], "limen-rescue.iso");
    assert!(
        libvirt_cdrom(&name).ends_with("/isos/limen-rescue.iso"),
        "the running domain's drive: {}",
        libvirt_cdrom(&name)
    );
    assert_eq!(api.act(&id, "reset").await["status"], "running");
    // The console stayed open through the reset: it reads the new menu from its first line.
    let shown = read_until(&mut console, RESCUE_TITLE, BOOT_LIMIT).await;
    assert!(
        !shown.contains(MENU_TITLE),
        "the old ISO's menu came back after the reset:\n{shown}"
    );
    step(began, "after attach + reset: limen-rescue.iso's menu");

    // 3. The installation is done: boot order `hd` (applies at the next cold boot, the VM
    // runs); a stop and a start boot the clone's own disk, the ISO still in the drive.
    let report = api
        .post_empty(&format!("/api/v1/vms/{id}/complete-installation"), 200)
        .await;
    assert_eq!(report["installation_status"], "Installed", "{report}");
    let report = api
        .post(
            &format!("/api/v1/vms/{id}/boot-order"),
            json!({ "boot_order": "hd" }),
            200,
        )
        .await;
    assert_eq!(report["boot_order"], "hd", "{report}");
    assert_eq!(report["applies_at_next_boot"], true, "{report}");
    let report = api.get(&format!("/api/v1/vms/{id}/boot-order")).await;
    assert_eq!(report["boot_order"], "hd", "{report}");
    assert_eq!(api.act(&id, "stop").await["status"], "stopped");
    drop(console);
    let vm = api.vm(&id).await;
    assert_eq!(vm["current_media"], "limen-rescue.iso", "{vm}");
    assert_eq!(vm["boot_order"], "hd", "{vm}");
    let report = api.get(&format!("/api/v1/vms/{id}/boot-order")).await;
    assert_eq!(report["applies_at_next_boot"], false, "stopped: {report}");
    step(began, "boot order hd, stopped; starting");
    assert_eq!(api.act(&id, "start").await["status"], "running");
    let mut console = serial(&app, &id).await;
    let shown = read_until(&mut console, BOOTED, BOOT_LIMIT).await;
    assert!(!shown.contains(RESCUE_TITLE), "the ISO booted:\n{shown}");
    step(began, "booted from its disk");

    // 5. An online resize: the running guest sees its disk grow; a shrink is refused and
    // changes nothing.
    assert_eq!(guest_disk_sectors(&mut console).await, GIB / 512);
    let disk = api.resize(&id, 2, 200).await;
    assert_eq!(disk["virtual_size"], 2 * GIB, "{disk}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sectors = guest_disk_sectors(&mut console).await;
        if sectors == 2 * GIB / 512 {
            break;
        }
        assert_eq!(sectors, GIB / 512, "neither the old size nor the new one");
        assert!(
            Instant::now() < deadline,
            "the guest still sees {sectors} sectors"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(libvirt_capacity(&name), 2 * GIB);
    step(began, "the guest sees its disk grown to 2 GiB");
    let refusal = api.resize(&id, 1, 400).await;
    assert_eq!(refusal["code"], "VALIDATION_FAILED", "{refusal}");
    assert_eq!(api.disk(&id).await["virtual_size"], 2 * GIB);
    assert_eq!(libvirt_capacity(&name), 2 * GIB);
    assert_eq!(
        api.vm(&id).await["disk_size"],
        2,
        "the record keeps the grown size"
    );
    assert_eq!(guest_disk_sectors(&mut console).await, 2 * GIB / 512);

    // 4. A base image made from the stopped VM's disk (flattened: no backing file) boots as the
    // disk of a new VM. The ISO, no longer needed, is ejected first.
    assert_eq!(api.act(&id, "stop").await["status"], "stopped");
    drop(console);
    let vm = api
        .post_empty(&format!("/api/v1/vms/{id}/media/detach"), 200)
        .await;
    assert_eq!(vm["current_media"], Value::Null, "{vm}");
    assert_eq!(
        libvirt_cdrom(&name),
        "-",
        "the drive is empty in the definition"
    );
    let mut events = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    let started = api
        .post("/api/v1/images", json!({ "vm": id, "name": template }), 202)
        .await;
    let image = format!("{template}.qcow2");
    assert_eq!(started["state"], "running", "{started}");
    assert_eq!(started["target"], image.as_str(), "{started}");
    let done = events
        .wait_for(Duration::from_secs(120), |event| {
            event.event == "operation_progress" && event.data["state"] != "running"
        })
        .await;
    assert_eq!(done.data["id"], started["id"], "{:?}", done.data);
    assert_eq!(done.data["state"], "done", "{:?}", done.data);
    drop(events);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let operations = api.get("/api/v1/operations").await;
        if operations.as_array().unwrap().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still running: {operations}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let path = app.data_dir.0.join("images").join(&image);
    assert!(path.is_file(), "{} was not made", path.display());
    let mut library: Vec<String> = std::fs::read_dir(app.data_dir.0.join("images"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    library.sort();
    let mut expected = vec!["limen-guest.qcow2".to_string(), image.clone()];
    expected.sort();
    assert_eq!(
        library, expected,
        "nothing else (no partial copy) in the library"
    );
    let info: Value = serde_json::from_slice(
        &std::process::Command::new("qemu-img")
            .args(["info", "--output=json", "-U"])
            .arg(&path)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(info["format"], "qcow2", "{info}");
    assert_eq!(info["virtual-size"], 2 * GIB, "{info}");
    assert!(
        info.get("backing-filename").is_none(),
        "not flattened: {info}"
    );
    let images = api.get("/api/v1/images").await;
    assert!(
        images
            .as_array()
            .unwrap()
            .iter()
            .any(|file| file["name"] == image.as_str()),
        "{images}"
    );
    step(began, "the base image is made");
    let (clone_id, clone) = api
        .create(json!({
            "name": clone_name, "cpu": 1, "memory": 256, "disk_size": 2,
            "image": image, "boot_order": "hd", "start": true,
        }))
        .await;
    assert_eq!(clone["status"], "running", "{clone}");
    assert_eq!(api.disk(&clone_id).await["backing_image"], image.as_str());
    let mut console = serial(&app, &clone_id).await;
    read_until(&mut console, BOOTED, BOOT_LIMIT).await;
    assert_eq!(guest_disk_sectors(&mut console).await, 2 * GIB / 512);
    step(began, "the VM made from the base image booted");

    assert_eq!(api.act(&clone_id, "stop").await["status"], "stopped");
    drop(console);
    api.delete(&clone_id).await;
    api.delete(&id).await;
    assert_eq!(app.disk_files(), Vec::<PathBuf>::new());
    step(began, "done");
}
