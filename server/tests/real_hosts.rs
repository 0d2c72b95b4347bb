//! Two real libvirt hosts on this machine (the second: scripts/second-host.sh, its own libvirtd
//! in private namespaces, reached over its unix socket). A second host is added and followed;
//! its daemon going away leaves its VMs `unknown` while the local host keeps working, and they
//! come back when it does; a `virsh migrate` made behind Limen's back is followed, not shown as
//! missing on one host and a ghost on the other.
//!
//! Needs `LIMEN_TEST_GUEST_DIR` and `LIMEN_TEST_SECOND_HOST` (the second host's URI: `make
//! test` starts it with `scripts/second-host.sh start`), and libvirtd on qemu:///system.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::guest::{guest_query, serial, step, stock_libraries, Api};
use common::process::{DomainCleanup, LIBVIRT};
use common::sse::SseClient;
use common::{unique_name, TempDir, TestApp, TestDb};
use serde_json::{json, Value};

/// The tests take turns: one takes the second host's daemon down, which would cut the other's
/// migration short.
static SECOND_HOST: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn second_host_uri() -> String {
    std::env::var("LIMEN_TEST_SECOND_HOST").expect(
        "LIMEN_TEST_SECOND_HOST is not set: run `make test`, or export what \
         `scripts/second-host.sh start` prints",
    )
}

fn script(command: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new("bash")
        .arg(root.join("scripts/second-host.sh"))
        .arg(command)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "second-host.sh {command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// The second host's libvirtd, by its pid file (beside its socket).
fn second_daemon_pid(uri: &str) -> i32 {
    let socket = uri.split_once("socket=").unwrap().1;
    let pid_file = PathBuf::from(socket).with_file_name("libvirtd.pid");
    std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("{}: {e}", pid_file.display()))
        .trim()
        .parse()
        .unwrap()
}

fn virsh(uri: &str, args: &[&str]) {
    let output = Command::new("virsh")
        .arg("-c")
        .arg(uri)
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "virsh {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The VM as the event stream says it is now (a change of it, or a fresh snapshot listing
/// it), once `done` says it is what was waited for, within `limit`.
async fn wait_vm(
    events: &mut SseClient,
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut found = Value::Null;
    events
        .wait_for(limit, |event| {
            let candidates: Vec<&Value> = match event.event.as_str() {
                "vm_created" | "vm_updated" => vec![&event.data],
                "snapshot" => event.data["vms"]
                    .as_array()
                    .map_or(Vec::new(), |vms| vms.iter().collect()),
                _ => Vec::new(),
            };
            match candidates.into_iter().find(|vm| vm["uuid"] == id) {
                Some(vm) if done(vm) => {
                    found = vm.clone();
                    true
                }
                _ => false,
            }
        })
        .await;
    found
}

/// Removes a test's domain from the second host too (a failed run leaves none behind there).
struct SecondHostCleanup(String, String);

impl Drop for SecondHostCleanup {
    fn drop(&mut self) {
        for args in [["destroy", self.1.as_str()], ["undefine", self.1.as_str()]] {
            let _ = Command::new("virsh")
                .arg("-c")
                .arg(&self.0)
                .args(args)
                .output();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_host_is_followed_lost_found_and_followed_through_a_virsh_migration() {
    let _turn = SECOND_HOST.lock().await;
    let began = Instant::now();
    let uri = second_host_uri();
    let main_uri_from_second = script("main-uri");
    let app = TestApp::spawn_with(TestDb::new(), LIBVIRT).await;
    stock_libraries(&app, &[("images", "limen-guest.qcow2")]);
    let api = Api { app: &app };
    let mut events = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;
    let added = api
        .post(
            "/api/v1/hosts",
            json!({ "name": "second", "uri": uri }),
            201,
        )
        .await;
    assert_eq!(added["state"], "connected", "{added}");
    step(began, "second host added");

    let name = unique_name("wanderer");
    let homebody = unique_name("homebody");
    let _cleanup = DomainCleanup(vec![name.clone(), homebody.clone()]);
    let _cleanup_there = SecondHostCleanup(uri.clone(), name.clone());
    let (id, vm) = api
        .create(json!({
            "name": name, "cpu": 1, "memory": 128, "disk_size": 1,
            "image": "limen-guest.qcow2", "boot_order": "hd", "host": "second", "start": true,
        }))
        .await;
    assert_eq!(vm["host"], "second", "{vm}");
    wait_vm(&mut events, &id, Duration::from_secs(30), |vm| {
        vm["status"] == "running"
    })
    .await;
    let (local, _) = api
        .create(json!({
            "name": homebody, "cpu": 1, "memory": 64, "disk_size": 1, "host": "local",
        }))
        .await;
    step(began, "a guest runs on the second host");

    // Its libvirtd goes away (QEMU keeps running): its VMs are `unknown`, the host says why,
    // and the local host answers as ever.
    let pid = second_daemon_pid(&uri);
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    wait_vm(&mut events, &id, Duration::from_secs(20), |vm| {
        vm["status"] == "unknown" && vm["host"] == "second"
    })
    .await;
    let hosts = api.get("/api/v1/hosts").await;
    let second = hosts
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["key"] == "second")
        .unwrap();
    assert_eq!(second["state"], "unreachable", "{second}");
    assert!(
        second["reason"].as_str().is_some_and(|r| !r.contains('/')),
        "{second}"
    );
    let home = api.vm(&local).await;
    assert_eq!(home["status"], "stopped", "{home}");
    let listed = api.get("/api/v1/vms").await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    // A backup goes on without it: every row, the definitions of the hosts that answer.
    let archive = TempDir::new();
    let file = archive.0.join("away.limen-backup");
    let manifest = server::backup::create(&app.cx().db, &app.cx().hosts, &file)
        .await
        .expect("a backup while a host is away");
    assert_eq!(manifest.hosts_unreachable, ["second"]);
    let defined: Vec<String> = manifest
        .domains
        .iter()
        .map(|d| d.uuid.to_string())
        .collect();
    assert_eq!(defined, std::slice::from_ref(&local), "{defined:?}");
    step(
        began,
        "the second host is away; its VM is unknown; a backup skips it",
    );

    // It comes back (the script's start clears what a lost daemon left, its QEMU included): the
    // view is listed again and the record says what that libvirt says, on the same host.
    script("start");
    let back = wait_vm(&mut events, &id, Duration::from_secs(30), |vm| {
        vm["status"] != "unknown" && vm["host"] == "second"
    })
    .await;
    if back["status"] != "running" {
        api.act(&id, "start").await;
        wait_vm(&mut events, &id, Duration::from_secs(30), |vm| {
            vm["status"] == "running"
        })
        .await;
    }
    step(began, "the second host is back and resynced");

    // Moved behind Limen's back: the record follows to the local host, never missing.
    virsh(
        &uri,
        &[
            "migrate",
            "--live",
            "--p2p",
            "--persistent",
            "--undefinesource",
            "--unsafe",
            &name,
            &main_uri_from_second,
        ],
    );
    let moved = wait_vm(&mut events, &id, Duration::from_secs(30), |vm| {
        vm["host"] == "local" && vm["status"] == "running"
    })
    .await;
    assert_eq!(moved["name"], name.as_str());
    let report = api.post_empty("/api/v1/reconcile", 200).await;
    for kind in ["ghosts", "missing"] {
        let listed = report[kind].as_array().unwrap();
        assert!(
            listed.iter().all(|vm| vm["uuid"] != id.as_str()),
            "{kind}: {report}"
        );
    }
    let listed = api.get("/api/v1/vms").await;
    let copies = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|vm| vm["uuid"] == id.as_str())
        .count();
    assert_eq!(copies, 1, "{listed}");
    step(began, "a virsh migration was followed");
    api.delete(&id).await;
}

/// The guest's uptime in whole seconds, asked on its serial console (on whichever host).
async fn uptime(app: &TestApp, id: &str) -> u64 {
    let mut console = serial(app, id).await;
    guest_query(&mut console, "cut -d. -f1 /proc/uptime")
        .await
        .0
}

/// Progress events of the VM's migration until it ends; returns them.
async fn migration_events(events: &mut SseClient, id: &str) -> Vec<Value> {
    let mut seen = Vec::new();
    events
        .wait_for(Duration::from_secs(60), |event| {
            if event.event != "operation_progress"
                || event.data["vm"] != id
                || event.data["kind"] != "vm_migrate"
            {
                return false;
            }
            seen.push(event.data.clone());
            event.data["state"] != "running"
        })
        .await;
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_guest_migrates_live_both_ways_and_a_refused_migration_leaves_it_running() {
    let _turn = SECOND_HOST.lock().await;
    let began = Instant::now();
    let uri = second_host_uri();
    let app = TestApp::spawn_with(TestDb::new(), LIBVIRT).await;
    stock_libraries(&app, &[("images", "limen-guest.qcow2")]);
    let api = Api { app: &app };
    api.post(
        "/api/v1/hosts",
        json!({ "name": "second", "uri": uri }),
        201,
    )
    .await;
    let name = unique_name("traveller");
    let _cleanup = DomainCleanup(vec![name.clone()]);
    let _cleanup_there = SecondHostCleanup(uri.clone(), name.clone());
    let (id, _) = api
        .create(json!({
            "name": name, "cpu": 1, "memory": 128, "disk_size": 1,
            "image": "limen-guest.qcow2", "boot_order": "hd", "host": "local",
        }))
        .await;
    let first = uptime(&app, &id).await;
    step(
        began,
        &format!("the guest is up on the local host ({first} s)"),
    );
    let mut events = SseClient::connect(&app.client, &app.url("/api/v1/events"), None).await;

    // There, live: it keeps running (its uptime goes on), the record follows, progress shows.
    let moved = api
        .post(
            &format!("/api/v1/vms/{id}/migrate"),
            json!({ "host": "second" }),
            200,
        )
        .await;
    assert_eq!(
        (moved["host"].as_str(), moved["status"].as_str()),
        (Some("second"), Some("running")),
        "{moved}"
    );
    let progress = migration_events(&mut events, &id).await;
    assert_eq!(progress.last().unwrap()["state"], "done", "{progress:?}");
    assert_eq!(progress.last().unwrap()["target"], "second");
    let there = uptime(&app, &id).await;
    assert!(
        there >= first,
        "the guest did not restart: {first} s, then {there} s"
    );
    step(
        began,
        &format!("migrated live to the second host ({there} s)"),
    );

    // Refused by the destination: the local host has a domain of this UUID under another
    // name. The guest runs on where it was, recorded there.
    let xml = Command::new("virsh")
        .args(["-c", &uri, "dumpxml", "--inactive", &name])
        .output()
        .unwrap();
    let blocker = String::from_utf8(xml.stdout).unwrap().replace(
        &format!("<name>{name}</name>"),
        &format!("<name>{name}-blocker</name>"),
    );
    let blocker_file = app.data_dir.0.join("blocker.xml");
    std::fs::write(&blocker_file, blocker).unwrap();
    let _cleanup_blocker = DomainCleanup(vec![format!("{name}-blocker")]);
    virsh(LIBVIRT, &["define", blocker_file.to_str().unwrap()]);
    let refused = app
        .post_json(
            &format!("/api/v1/vms/{id}/migrate"),
            json!({ "host": "local" }),
        )
        .await;
    assert_eq!(refused.status(), 500);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("stays where it was"),
        "{body}"
    );
    let progress = migration_events(&mut events, &id).await;
    assert_eq!(progress.last().unwrap()["state"], "failed", "{progress:?}");
    let stayed = api.vm(&id).await;
    assert_eq!(
        (stayed["host"].as_str(), stayed["status"].as_str()),
        (Some("second"), Some("running")),
        "{stayed}"
    );
    let still = uptime(&app, &id).await;
    assert!(
        still >= there,
        "the guest did not restart: {there} s, then {still} s"
    );
    virsh(LIBVIRT, &["undefine", &format!("{name}-blocker")]);
    step(
        began,
        "a refused migration left it running on the second host",
    );

    // And back, live.
    let back = api
        .post(
            &format!("/api/v1/vms/{id}/migrate"),
            json!({ "host": "local", "live": true }),
            200,
        )
        .await;
    assert_eq!(back["host"], "local", "{back}");
    let home = uptime(&app, &id).await;
    assert!(
        home >= still,
        "the guest did not restart: {still} s, then {home} s"
    );
    let listed = api.get("/api/v1/vms").await;
    assert_eq!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|vm| vm["uuid"] == id.as_str())
            .count(),
        1
    );
    step(began, &format!("migrated live back ({home} s)"));

    // Stopped, it moves by its definition; started there, it runs there.
    api.act(&id, "stop").await;
    let offline = api
        .post(
            &format!("/api/v1/vms/{id}/migrate"),
            json!({ "host": "second" }),
            200,
        )
        .await;
    assert_eq!(
        (offline["host"].as_str(), offline["status"].as_str()),
        (Some("second"), Some("stopped")),
        "{offline}"
    );
    virsh(&uri, &["dominfo", &name]);
    let gone = Command::new("virsh")
        .args(["-c", LIBVIRT, "dominfo", &name])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the local host forgot it");
    let started = api.act(&id, "start").await;
    assert_eq!(started["status"], "running", "{started}");
    step(began, "moved offline and started there");
    api.delete(&id).await;
}
