//! Snapshots proved on real QEMU guests (real libvirtd, TCG) through the REST API, the event
//! stream and the serial console: a revert to a snapshot taken with the guest's memory resumes
//! the guest where it was (what it wrote into its RAM is there, and it does not boot again); a
//! revert to a stopped VM's snapshot brings back its disk's old size; a snapshot made with
//! virsh behind Limen's back is published and listed; deleting a VM leaves none of its
//! snapshots' data or metadata. libvirt's test driver proves the API's rules
//! (tests/api_snapshots.rs).
//!
//! The guest (`scripts/test-guest.sh`): `limen-guest.qcow2` boots Debian's cloud kernel with a
//! busybox init that says "limen-guest: booted" and runs a shell on the serial port; its root
//! file system is the initramfs, in RAM.
//!
//! Needs `LIMEN_TEST_GUEST_DIR` (the output of scripts/test-guest.sh; `make test` sets it) and a
//! libvirt daemon on qemu:///system.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::guest::{
    guest_query, libvirt_capacity, serial, step, stock_libraries, Api, BOOTED, BOOT_LIMIT, GIB,
};
use common::process::{virsh, DomainCleanup, LIBVIRT};
use common::sse::{status_in_snapshot, SseClient};
use common::ws::{read_until, Socket};
use common::{unique_name, TestApp, TestDb};
use serde_json::{json, Value};

/// How long an event may take: a snapshot made behind Limen's back is found by the monitor's
/// sweep (every second here).
const EVENT_LIMIT: Duration = Duration::from_secs(30);
/// Where the system libvirtd keeps its domains' snapshot metadata (one directory per domain).
const SNAPSHOT_METADATA: &str = "/var/lib/libvirt/qemu/snapshot";

/// The snapshot calls, which only this test makes.
impl Api<'_> {
    async fn snapshots(&self, id: &str) -> Vec<Value> {
        let list = self.get(&format!("/api/v1/vms/{id}/snapshots")).await;
        list.as_array().expect("a list").clone()
    }

    /// Takes a snapshot (201).
    async fn take(&self, id: &str, body: Value) -> Value {
        self.post(&format!("/api/v1/vms/{id}/snapshots"), body, 201)
            .await
    }

    /// Reverts to a snapshot (200).
    async fn revert(&self, id: &str, name: &str) -> Value {
        self.post(
            &format!("/api/v1/vms/{id}/snapshots/{name}/revert"),
            json!({}),
            200,
        )
        .await
    }
}

/// Writes `mark` into a file in the guest's RAM (its root is the initramfs) and reads it back.
async fn write_mark(serial: &mut Socket, mark: u64) {
    let command = format!("mkdir -p /tmp && echo {mark} > /tmp/mark && cat /tmp/mark");
    assert_eq!(guest_query(serial, &command).await.0, mark);
}

/// What `qemu-img info` says of the image at `path`.
fn qemu_img_info(path: &Path) -> Value {
    let output = std::process::Command::new("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "qemu-img info {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The names of the internal snapshots in the qcow2 image at `path`, sorted.
fn image_snapshots(path: &Path) -> Vec<String> {
    let info = qemu_img_info(path);
    let mut names: Vec<String> = info["snapshots"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|snapshot| snapshot["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The files in libvirt's snapshot metadata directory of domain `name`, sorted (none if the
/// directory is not there).
fn snapshot_metadata(name: &str) -> Vec<String> {
    common::library_entries(&Path::new(SNAPSHOT_METADATA).join(name))
}

/// How many author records Limen keeps of the VM's snapshots.
fn records(app: &TestApp, id: &str) -> i64 {
    app.db.count(&format!(
        "SELECT count(*) AS n FROM snapshots WHERE vm_uuid = '{id}'"
    ))
}

fn names(list: &[Value]) -> Vec<&str> {
    list.iter()
        .map(|snapshot| snapshot["name"].as_str().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_revert_real_guests_memory_and_disk_and_go_with_their_vm() {
    let began = Instant::now();
    // A sweep every second: a stopped VM's snapshot made with virsh comes with no libvirt event.
    let app = TestApp::spawn_configured(TestDb::new(), LIBVIRT, |config| {
        config.snapshot_sweep_secs = 1;
    })
    .await;
    stock_libraries(&app, &[("images", "limen-guest.qcow2")]);
    let api = Api { app: &app };
    let name = unique_name("snap-guest");
    let quiet_name = unique_name("snap-virsh");
    let _cleanup = DomainCleanup(vec![name.clone(), quiet_name.clone()]);

    // A VM that stays stopped and whose snapshots nothing touches until virsh makes one (3.):
    // made first, so the monitor has long read it (its first read only learns what it has)
    // and no late word on another change of its snapshots can be taken for that one's.
    let (quiet, vm) = api
        .create(json!({ "name": quiet_name, "cpu": 1, "memory": 128, "disk_size": 1 }))
        .await;
    assert_eq!(vm["status"], "stopped", "{vm}");

    // 1. A running guest's snapshot holds its memory: after a stop, a revert resumes the guest
    // where it was, with what it had written into its RAM, without booting it again.
    let (id, vm) = api
        .create(json!({
            "name": name, "cpu": 1, "memory": 256, "disk_size": 1,
            "image": "limen-guest.qcow2", "boot_order": "hd",
        }))
        .await;
    assert_eq!(vm["status"], "stopped", "{vm}");
    let disk_path = app.data_dir.0.join(
        api.disk(&id).await["path"]
            .as_str()
            .expect("the disk's path"),
    );
    assert!(disk_path.is_file(), "{}", disk_path.display());
    step(began, "created from the base image; booting");
    let mut console = serial(&app, &id).await;
    read_until(&mut console, BOOTED, BOOT_LIMIT).await;
    assert_eq!(api.vm(&id).await["status"], "running");
    step(began, "booted");
    let mark = 100_000 + u64::try_from(uuid::Uuid::new_v4().as_u128() % 800_000).unwrap();
    write_mark(&mut console, mark).await;

    let snapshot = api
        .take(
            &id,
            json!({ "name": "running-snap", "description": "the guest has its mark" }),
        )
        .await;
    assert_eq!(snapshot["name"], "running-snap", "{snapshot}");
    assert_eq!(snapshot["state"], "running", "{snapshot}");
    assert_eq!(snapshot["memory"], true, "memory by default: {snapshot}");
    assert_eq!(snapshot["current"], true, "{snapshot}");
    assert_eq!(snapshot["parent"], Value::Null, "{snapshot}");
    assert_eq!(snapshot["created_by"], "admin", "{snapshot}");
    assert_eq!(snapshot["description"], "the guest has its mark");
    assert_eq!(image_snapshots(&disk_path), ["running-snap"]);
    step(began, "snapshot with memory taken");
    // The guest ran on after it (paused while its memory was written): it takes another mark,
    // which the revert must undo.
    assert_eq!(api.vm(&id).await["status"], "running");
    write_mark(&mut console, mark + 1).await;

    assert_eq!(api.act(&id, "stop").await["status"], "stopped");
    drop(console);
    assert_eq!(api.vm(&id).await["status"], "stopped");
    let mut events = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    let first = events
        .wait_for(EVENT_LIMIT, |event| event.event == "snapshot")
        .await;
    assert_eq!(
        status_in_snapshot(&first, &id).as_deref(),
        Some("stopped"),
        "{:?}",
        first.data
    );

    let reverted = api.revert(&id, "running-snap").await;
    assert_eq!(reverted["name"], "running-snap", "{reverted}");
    assert_eq!(reverted["current"], true, "{reverted}");
    // The stream says the VM runs again, and that the revert is done.
    let (mut running, mut done) = (false, false);
    events
        .wait_for(EVENT_LIMIT, |event| {
            match event.event.as_str() {
                "vm_updated" if event.data["uuid"] == id.as_str() => {
                    running = event.data["status"] == "running";
                }
                "operation_progress"
                    if event.data["vm"] == id.as_str()
                        && event.data["kind"] == "snapshot_revert"
                        && event.data["state"] != "running" =>
                {
                    assert_eq!(event.data["state"], "done", "{:?}", event.data);
                    assert_eq!(event.data["target"], "running-snap", "{:?}", event.data);
                    done = true;
                }
                _ => {}
            }
            running && done
        })
        .await;
    assert_eq!(api.vm(&id).await["status"], "running");
    step(began, "reverted: running again");
    let mut console = serial(&app, &id).await;
    let (read, shown) = guest_query(&mut console, "cat /tmp/mark").await;
    assert_eq!(
        read, mark,
        "the guest's RAM is not what it was at the snapshot"
    );
    assert!(!shown.contains(BOOTED), "the guest booted again:\n{shown}");
    step(began, "the guest resumed with its mark in RAM, no boot");

    // 2. A stopped VM's snapshot holds its disk: grown after it, the disk is back to its old
    // size after a revert, in the image, in libvirt and in Limen's record.
    assert_eq!(api.act(&id, "stop").await["status"], "stopped");
    drop(console);
    let snapshot = api.take(&id, json!({ "name": "stopped-snap" })).await;
    assert_eq!(snapshot["state"], "stopped", "{snapshot}");
    assert_eq!(snapshot["memory"], false, "{snapshot}");
    assert_eq!(snapshot["parent"], "running-snap", "{snapshot}");
    assert_eq!(snapshot["current"], true, "{snapshot}");
    assert_eq!(api.disk(&id).await["virtual_size"], GIB);
    let disk = api.resize(&id, 2, 200).await;
    assert_eq!(disk["virtual_size"], 2 * GIB, "{disk}");
    assert_eq!(api.vm(&id).await["disk_size"], 2);
    assert_eq!(qemu_img_info(&disk_path)["virtual-size"], 2 * GIB);
    assert_eq!(libvirt_capacity(&name), 2 * GIB);
    step(began, "stopped, snapshot taken, disk grown to 2 GiB");
    let reverted = api.revert(&id, "stopped-snap").await;
    assert_eq!(reverted["current"], true, "{reverted}");
    assert_eq!(api.disk(&id).await["virtual_size"], GIB, "the disk's size");
    let vm = api.vm(&id).await;
    assert_eq!(vm["disk_size"], 1, "the record's size: {vm}");
    assert_eq!(vm["status"], "stopped", "{vm}");
    assert_eq!(qemu_img_info(&disk_path)["virtual-size"], GIB);
    assert_eq!(libvirt_capacity(&name), GIB);
    let list = api.snapshots(&id).await;
    assert_eq!(names(&list), ["running-snap", "stopped-snap"], "{list:?}");
    assert_eq!(list[1]["current"], true, "{list:?}");
    assert!(list
        .iter()
        .all(|snapshot| snapshot["created_by"] == "admin"));
    step(began, "reverted: the disk is 1 GiB again");

    // 3. A snapshot made with virsh (of a stopped VM: libvirt sends no event) is published on
    // the stream and listed, as made outside Limen.
    assert_eq!(api.snapshots(&quiet).await, Vec::<Value>::new());
    virsh(&["snapshot-create-as", &quiet_name, "by-virsh"]);
    events
        .wait_for(EVENT_LIMIT, |event| {
            event.event == "vm_snapshots" && event.data["uuid"] == quiet.as_str()
        })
        .await;
    let list = api.snapshots(&quiet).await;
    assert_eq!(names(&list), ["by-virsh"], "{list:?}");
    assert_eq!(list[0]["created_by"], Value::Null, "{list:?}");
    assert_eq!(list[0]["state"], "stopped", "{list:?}");
    assert_eq!(list[0]["memory"], false, "{list:?}");
    assert_eq!(records(&app, &quiet), 0);
    step(
        began,
        "the snapshot made with virsh is published and listed",
    );

    // 4. Deleting a VM takes its snapshots with it: libvirt's metadata, the data in the disk
    // file (which goes) and Limen's records.
    api.take(&quiet, json!({ "name": "ours" })).await;
    let quiet_disk = app.data_dir.0.join(
        api.disk(&quiet).await["path"]
            .as_str()
            .expect("the disk's path"),
    );
    assert_eq!(image_snapshots(&quiet_disk), ["by-virsh", "ours"]);
    assert_eq!(
        image_snapshots(&disk_path),
        ["running-snap", "stopped-snap"]
    );
    assert_eq!(
        snapshot_metadata(&name),
        ["running-snap.xml", "stopped-snap.xml"]
    );
    assert_eq!(snapshot_metadata(&quiet_name), ["by-virsh.xml", "ours.xml"]);
    assert_eq!((records(&app, &id), records(&app, &quiet)), (2, 1));
    api.delete(&id).await;
    api.delete(&quiet).await;
    for (domain, path) in [(&name, &disk_path), (&quiet_name, &quiet_disk)] {
        assert!(!app.domain_exists(domain), "{domain} is still defined");
        assert_eq!(
            snapshot_metadata(domain),
            Vec::<String>::new(),
            "libvirt's snapshot metadata of {domain}"
        );
        assert!(!path.exists(), "{} is still there", path.display());
    }
    assert_eq!(app.disk_files(), Vec::<PathBuf>::new());
    assert_eq!((records(&app, &id), records(&app, &quiet)), (0, 0));
    step(began, "done");
}
