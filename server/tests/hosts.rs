//! Several libvirt hosts (SPEC §13), on libvirt's test driver: the hosts API, placement and
//! the host filter. (Two real daemons, an unreachable host and migrations: `real_hosts.rs`.)

mod common;

use app::auth::{Quota, Role};
use common::{client_with_token, get_json_as, make_user, unique_name, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A second test-driver host of its own (a test URI naming a file is a private instance):
/// 4 CPUs, 8 GiB.
fn second_host_uri(app: &TestApp) -> String {
    let node = app.data_dir.0.join("second-node.xml");
    std::fs::write(
        &node,
        "<node><cpu><mode>fixed</mode><model>i686</model><mhz>2000</mhz><active>4</active>\
         <max>4</max><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads>\
         </cpu><memory>8388608</memory></node>",
    )
    .unwrap();
    format!("test://{}", node.display())
}

async fn add_host(app: &TestApp, name: &str, uri: &str) -> reqwest::Response {
    app.post_json("/api/v1/hosts", json!({ "name": name, "uri": uri }))
        .await
}

fn keys(hosts: &[Value]) -> Vec<&str> {
    hosts.iter().map(|h| h["key"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn an_admin_adds_a_host_creates_on_it_filters_by_it_and_removes_it() {
    let app = TestApp::spawn().await;
    let hosts: Vec<Value> = app.get_json("/api/v1/hosts").await;
    assert_eq!(keys(&hosts), ["local"], "{hosts:?}");
    assert_eq!(hosts[0]["state"], "connected");
    assert_eq!(hosts[0]["local"], true);
    assert_eq!(hosts[0]["uri"], "test:///default");
    assert!(hosts[0]["capacity"]["cpus"].as_u64().unwrap() > 0);

    let uri = second_host_uri(&app);
    let added = add_host(&app, "Rack-2", &uri).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["key"], "rack-2");
    assert_eq!(added["name"], "Rack-2");
    assert_eq!(added["enabled"], true);
    assert_eq!(added["capacity"]["cpus"], 4);
    assert_eq!(added["capacity"]["memory"], 8192);
    let hosts: Vec<Value> = app.get_json("/api/v1/hosts").await;
    assert_eq!(keys(&hosts), ["local", "rack-2"]);

    // The same name again (in any case) is refused; so is the local host's key.
    for name in ["rack-2", "RACK-2", "local"] {
        let again = add_host(&app, name, &uri).await;
        assert_eq!(again.status(), StatusCode::CONFLICT, "{name}");
        let body: Value = again.json().await.unwrap();
        assert_eq!(body["code"], "HOST_ALREADY_EXISTS");
    }

    // Created where asked; the list filters by host.
    let on_second: Value = app
        .post_for_json(
            "/api/v1/vms",
            json!({ "name": unique_name("far"), "cpu": 1, "memory": 64, "disk_size": 1, "host": "rack-2" }),
        )
        .await;
    assert_eq!(on_second["host"], "rack-2", "{on_second}");
    assert_eq!(on_second["status"], "stopped");
    let id = on_second["uuid"].as_str().unwrap().to_string();
    let local_vm = app.create_small_vm(&unique_name("near")).await;
    let second: Vec<Value> = app.get_json("/api/v1/vms?host=rack-2").await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0]["uuid"], id.as_str());
    let local: Vec<Value> = app.get_json("/api/v1/vms?host=local").await;
    assert!(local.iter().all(|vm| vm["host"] == "local"));
    assert!(local.iter().any(|vm| vm["uuid"] == local_vm.as_str()));
    // Its domain is on the second host, not on the local one.
    assert!(!app.domain_exists(on_second["name"].as_str().unwrap()));
    // It starts there, and the record follows what that host's libvirt says.
    let started = app
        .post_json(
            &format!("/api/v1/vms/{id}/action"),
            json!({ "action": "start" }),
        )
        .await;
    assert_eq!(
        started.status(),
        StatusCode::OK,
        "{:?}",
        started.text().await
    );
    let vm: Value = app.get_json(&format!("/api/v1/vms/{id}")).await;
    assert_eq!(vm["status"], "running");
    let hosts: Vec<Value> = app.get_json("/api/v1/hosts").await;
    assert_eq!(hosts[1]["vms"], 1);

    // A host with VMs is not removed: the refusal names them.
    let refused = app.delete("/api/v1/hosts/rack-2").await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "HOST_IN_USE");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains(on_second["name"].as_str().unwrap()),
        "{body}"
    );
    let deleted = app.delete(&format!("/api/v1/vms/{id}")).await;
    assert!(deleted.status().is_success());
    let removed = app.delete("/api/v1/hosts/rack-2").await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let hosts: Vec<Value> = app.get_json("/api/v1/hosts").await;
    assert_eq!(keys(&hosts), ["local"]);
    assert!(
        !app.cx().hosts.contains("rack-2"),
        "its connection is closed"
    );
    let gone = app.delete("/api/v1/hosts/rack-2").await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);

    // Every change is audited.
    let page: Value = app.get_json("/api/v1/audit?limit=200").await;
    let actions: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("host."))
        .collect();
    assert!(actions.contains(&"host.add"), "{actions:?}");
    assert!(actions.contains(&"host.remove"), "{actions:?}");
}

#[tokio::test]
async fn placement_renaming_and_disabling() {
    let app = TestApp::spawn().await;
    let uri = second_host_uri(&app);
    assert_eq!(
        add_host(&app, "second", &uri).await.status(),
        StatusCode::CREATED
    );

    // Renamed: the key stays. A name another host has is refused.
    let renamed = app
        .client
        .patch(app.url("/api/v1/hosts/second"))
        .json(&json!({ "name": "attic" }))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!(
        (renamed["key"].as_str(), renamed["name"].as_str()),
        (Some("second"), Some("attic"))
    );
    let clash = app
        .client
        .patch(app.url("/api/v1/hosts/second"))
        .json(&json!({ "name": "LOCAL" }))
        .send()
        .await
        .unwrap();
    assert_eq!(clash.status(), StatusCode::CONFLICT);

    // Without a host, the one with the most free memory that fits: the test driver's local
    // host says 3 MiB are free, the second cannot say (it comes last); a VM larger than the
    // local machine (3 GiB) goes to the second (8 GiB).
    let big: Value = app
        .post_for_json(
            "/api/v1/vms",
            json!({ "name": unique_name("big"), "cpu": 1, "memory": 6144, "disk_size": 1 }),
        )
        .await;
    assert_eq!(big["host"], "second", "{big}");
    let small: Value = app
        .post_for_json(
            "/api/v1/vms",
            json!({ "name": unique_name("small"), "cpu": 1, "memory": 64, "disk_size": 1 }),
        )
        .await;
    assert_eq!(small["host"], "local", "{small}");

    // Disabled: nothing more is placed there, asked for or not; its VMs stay.
    let disabled = app
        .client
        .patch(app.url("/api/v1/hosts/second"))
        .json(&json!({ "enabled": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), StatusCode::OK);
    let asked = app
        .post_json(
            "/api/v1/vms",
            json!({ "name": unique_name("no"), "cpu": 1, "memory": 64, "disk_size": 1, "host": "second" }),
        )
        .await;
    assert_eq!(asked.status(), StatusCode::CONFLICT);
    let unplaced = app
        .post_json(
            "/api/v1/vms",
            json!({ "name": unique_name("no"), "cpu": 1, "memory": 6144, "disk_size": 1 }),
        )
        .await;
    assert_eq!(
        unplaced.status(),
        StatusCode::BAD_REQUEST,
        "only the local host is left"
    );
    let still: Vec<Value> = app.get_json("/api/v1/vms?host=second").await;
    assert_eq!(still.len(), 1);
    // An unknown host is named as such.
    let unknown = app
        .post_json(
            "/api/v1/vms",
            json!({ "name": unique_name("no"), "cpu": 1, "memory": 64, "disk_size": 1, "host": "nowhere" }),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["code"], "HOST_NOT_FOUND");

    // The local host can be neither disabled nor removed.
    let local_off = app
        .client
        .patch(app.url("/api/v1/hosts/local"))
        .json(&json!({ "enabled": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(local_off.status(), StatusCode::CONFLICT);
    assert_eq!(
        app.delete("/api/v1/hosts/local").await.status(),
        StatusCode::CONFLICT
    );
    // VM names stay unique across hosts.
    let twin = app
        .post_json(
            "/api/v1/vms",
            json!({ "name": big["name"], "cpu": 1, "memory": 64, "disk_size": 1, "host": "local" }),
        )
        .await;
    assert_eq!(twin.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn hostile_hosts_are_refused_in_words() {
    let app = TestApp::spawn().await;
    for (name, uri) in [
        ("../etc", "qemu:///system"),
        ("a<b", "qemu:///system"),
        ("", "qemu:///system"),
        ("ok", "http://example.com/"),
        ("ok", "qemu:///system?x=<script>"),
        ("ok", "/var/run/libvirt/libvirt-sock"),
        ("ok", ""),
    ] {
        let refused = add_host(&app, name, uri).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{name} {uri}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "VALIDATION_FAILED");
    }
    // A libvirt that does not answer: refused, the reason in words, no host path.
    let socket = app.data_dir.0.join("no-such-libvirt.sock");
    let uri = format!("qemu+unix:///system?socket={}", socket.display());
    let unreachable = add_host(&app, "ghost", &uri).await;
    assert_eq!(unreachable.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = unreachable.json().await.unwrap();
    assert_eq!(body["code"], "HYPERVISOR_UNAVAILABLE");
    let sentence = body["error"].as_str().unwrap();
    assert!(sentence.contains("is libvirtd running"), "{sentence}");
    assert!(!sentence.contains("no-such-libvirt"), "{sentence}");
    let hosts: Vec<Value> = app.get_json("/api/v1/hosts").await;
    assert_eq!(keys(&hosts), ["local"], "nothing half-made");
    // Bodies with unknown fields are refused, not half-read.
    let extra = app
        .post_json(
            "/api/v1/hosts",
            json!({ "name": "x", "uri": "test:///default", "ssh_password": "hunter2" }),
        )
        .await;
    assert_eq!(extra.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_user_sees_only_the_hosts_of_their_own_vms_without_uris() {
    let app = TestApp::spawn().await;
    let uri = second_host_uri(&app);
    assert_eq!(
        add_host(&app, "second", &uri).await.status(),
        StatusCode::CREATED
    );
    let token = make_user(&app.accounts, "minji", Role::User, Quota::default()).await;
    let minji = client_with_token(&token);
    let none: Vec<Value> = get_json_as(&minji, app.url("/api/v1/hosts")).await;
    assert!(none.is_empty(), "no VMs, no hosts: {none:?}");
    let created: Value = minji
        .post(app.url("/api/v1/vms"))
        .json(&json!({ "name": unique_name("mine"), "cpu": 1, "memory": 64, "disk_size": 1, "host": "second" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["host"], "second", "{created}");
    // Someone else's VM on the local host does not show the local host to her.
    app.create_small_vm(&unique_name("admins")).await;
    let hosts: Vec<Value> = get_json_as(&minji, app.url("/api/v1/hosts")).await;
    assert_eq!(keys(&hosts), ["second"]);
    assert!(hosts[0]["uri"].is_null());
    assert!(hosts[0]["capacity"].is_null());
    assert_eq!(hosts[0]["vms"], 1);
    // Managing hosts is for admins.
    let refused = minji
        .post(app.url("/api/v1/hosts"))
        .json(&json!({ "name": "mine", "uri": "test:///default" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_vm_whose_disk_is_outside_the_shared_data_dir_is_refused_before_anything_moves() {
    let app = TestApp::spawn().await;
    assert_eq!(
        add_host(&app, "rack-3", &second_host_uri(&app))
            .await
            .status(),
        StatusCode::CREATED
    );
    // A domain made outside Limen, its disk where its owner put it, adopted as it is.
    let id = uuid::Uuid::new_v4();
    let name = unique_name("legacy");
    let xml = format!(
        "<domain type='test'><name>{name}</name><uuid>{id}</uuid>\
         <memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os>\
         <devices><disk type='file' device='disk'><source file='/srv/legacy/disk.img'/>\
         <target dev='vda'/></disk></devices></domain>"
    );
    let host = app.sagas.context().hosts.local();
    host.define_xml(xml).await.unwrap();
    let adopted = app
        .post_json("/api/v1/reconcile/adopt", json!({ "uuid": id }))
        .await;
    assert_eq!(adopted.status(), StatusCode::CREATED);

    let refused = app
        .post_json(
            &format!("/api/v1/vms/{id}/migrate"),
            json!({ "host": "rack-3" }),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "INVALID_STATE", "{body}");
    let said = body["error"].as_str().unwrap();
    assert!(said.contains("outside Limen's data directory"), "{said}");
    assert!(!said.contains("/srv"), "no host path in: {said}");
    // Nothing moved: still here, recorded here, not defined there.
    let vm: Value = app.get_json(&format!("/api/v1/vms/{id}")).await;
    assert_eq!(vm["host"], "local", "{vm}");
    assert!(host.domain_exists(id).await.unwrap());
    let there = app.sagas.context().hosts.get("rack-3").unwrap();
    assert!(!there.domain_exists(id).await.unwrap());
}
