//! Live state against the real libvirtd (qemu:///system, TCG): changes made with `virsh`
//! reach an event-stream client, and a libvirtd restart is survived — the stream gets a
//! snapshot matching libvirt once it is back, and events flow again.
//!
//! The only test in its binary on purpose: it restarts libvirtd.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::process::{virsh, DomainCleanup, LIBVIRT};
use common::sse::{status_in_snapshot, SseClient};
use common::{unique_name, TestApp, TestDb};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

/// The system daemon's pid, from the pid file it writes (not by process name: a session-mode
/// libvirtd, which libvirt-dbus or a desktop user starts, has the same name).
fn libvirtd_pid() -> Option<String> {
    ["/run/libvirtd.pid", "/var/run/libvirtd.pid"]
        .iter()
        .find_map(|file| std::fs::read_to_string(file).ok())
        .map(|pid| pid.trim().to_string())
        .filter(|pid| !pid.is_empty())
}

fn is_running(pid: &str) -> bool {
    std::path::Path::new("/proc").join(pid).exists()
}

/// Stops the system libvirtd (its guests keep running) and starts it again with the project's
/// script.
fn restart_libvirtd() {
    let pid = libvirtd_pid()
        .filter(|pid| is_running(pid))
        .expect("the system libvirtd runs and has a pid file");
    assert!(Command::new("kill").arg(&pid).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while is_running(&pid) {
        assert!(Instant::now() < deadline, "libvirtd did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/libvirt.sh");
    let started = Command::new("bash").arg(script).status().unwrap();
    assert!(started.success(), "libvirtd did not come back");
}

/// The status in the next `vm_updated` event for VM `id`.
async fn next_status(stream: &mut SseClient, id: &str) -> String {
    let event = stream
        .wait_for(WAIT, |e| e.event == "vm_updated" && e.data["uuid"] == id)
        .await;
    event.data["status"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn virsh_changes_reach_the_stream_and_a_libvirtd_restart_is_survived() {
    let app = TestApp::spawn_with(TestDb::new(), LIBVIRT).await;
    let name = unique_name("live");
    let _cleanup = DomainCleanup(vec![name.clone()]);
    let id = app.create_small_vm(&name).await;

    let mut stream = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    let snapshot = stream.next(WAIT).await.unwrap();
    assert_eq!(
        status_in_snapshot(&snapshot, &id).as_deref(),
        Some("stopped")
    );

    virsh(&["start", &name]);
    assert_eq!(next_status(&mut stream, &id).await, "running");
    virsh(&["destroy", &name]);
    assert_eq!(next_status(&mut stream, &id).await, "stopped");
    virsh(&["start", &name]);
    assert_eq!(next_status(&mut stream, &id).await, "running");

    // libvirtd goes away and comes back; the guest runs on meanwhile. While it is away a
    // snapshot may say `unknown`; once it is back, one says what libvirt says.
    tokio::task::spawn_blocking(restart_libvirtd).await.unwrap();
    let resynced = stream
        .wait_for(Duration::from_secs(30), |e| {
            e.event == "snapshot" && status_in_snapshot(e, &id).as_deref() != Some("unknown")
        })
        .await;
    assert_eq!(virsh(&["domstate", &name]), "running");
    assert_eq!(
        status_in_snapshot(&resynced, &id).as_deref(),
        Some("running"),
        "the snapshot after the restart matches libvirt"
    );

    // Events are registered again on the new connection.
    virsh(&["destroy", &name]);
    assert_eq!(next_status(&mut stream, &id).await, "stopped");
    let got: Value = app.get_json(&format!("/api/v1/vms/{id}")).await;
    assert_eq!(got["status"], "stopped");
    app.delete(&format!("/api/v1/vms/{id}")).await;
}
