//! Crash safety with the real binary and a real libvirtd (qemu:///system, TCG): the process is
//! aborted right after each step of create and of delete; the next start finishes or undoes the
//! operation, and nothing leaks (record, disk, domain).
//!
//! Needs a libvirt daemon answering on qemu:///system (`make test` starts one).

mod common;

use common::process::{expect_abort, terminate, DomainCleanup, Node, LIBVIRT};
use common::unique_name;
use serde_json::{json, Value};

fn libvirt_has(name: &str) -> bool {
    virt::error::clear_error_callback();
    let conn = virt::connect::Connect::open(Some(LIBVIRT))
        .expect("a libvirt daemon on qemu:///system (make test starts one)");
    conn.lookup_domain_by_name(name).is_ok()
}

fn create(node: &Node, name: &str) -> reqwest::Result<reqwest::blocking::Response> {
    node.client()
        .post(node.url("/api/v1/vms"))
        .json(&json!({ "name": name, "cpu": 1, "memory": 128, "disk_size": 1, "start": true }))
        .send()
}

#[test]
fn a_create_cut_off_before_its_last_step_is_undone_at_the_next_start() {
    for step in ["record", "disk", "define", "start"] {
        let node = Node::new();
        let name = unique_name("crash-create");
        let _cleanup = DomainCleanup(vec![name.clone()]);
        let mut child = node.start(Some(&format!("vm_create.{step}:abort")));
        assert!(
            create(&node, &name).is_err(),
            "the server died mid-request at {step}"
        );
        expect_abort(&mut child, &node);

        let mut child = node.start(None);
        assert!(node.list().is_empty(), "no record after a crash at {step}");
        assert!(!libvirt_has(&name), "no domain after a crash at {step}");
        assert_eq!(node.disk_files(), 0, "no disk after a crash at {step}");
        assert_eq!(node.db.operation_states(), ["undone"], "{step}");
        assert!(terminate(&mut child).success());
    }
}

#[test]
fn a_delete_cut_off_at_any_step_is_finished_at_the_next_start() {
    for step in ["mark", "remove_domain", "remove_disk", "remove_record"] {
        let node = Node::new();
        let name = unique_name("crash-delete");
        let _cleanup = DomainCleanup(vec![name.clone()]);
        let mut child = node.start(Some(&format!("vm_delete.{step}:abort")));
        let vm: Value = create(&node, &name).unwrap().json().unwrap();
        assert_eq!(vm["status"], "running", "{vm}");
        let uuid = vm["uuid"].as_str().unwrap();
        let deleted = node
            .client()
            .delete(node.url(&format!("/api/v1/vms/{uuid}")))
            .send();
        assert!(deleted.is_err(), "the server died mid-request at {step}");
        expect_abort(&mut child, &node);

        let mut child = node.start(None);
        assert!(
            node.list().is_empty(),
            "the record is gone after a crash at {step}"
        );
        assert!(
            !libvirt_has(&name),
            "the domain is gone after a crash at {step}"
        );
        assert_eq!(
            node.disk_files(),
            0,
            "the disk is gone after a crash at {step}"
        );
        assert_eq!(node.db.operation_states(), ["done", "done"], "{step}");
        assert!(terminate(&mut child).success());
    }
}

#[test]
fn a_create_cut_off_after_its_last_step_is_kept() {
    // Every step ran; only "done" was not written: the VM is complete, so it stays.
    let node = Node::new();
    let name = unique_name("crash-finished");
    let _cleanup = DomainCleanup(vec![name.clone()]);
    let mut child = node.start(Some("vm_create.finish:abort"));
    assert!(
        create(&node, &name).is_err(),
        "the server died before answering"
    );
    expect_abort(&mut child, &node);

    let mut child = node.start(None);
    let list = node.list();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (&list[0]["name"], &list[0]["status"]),
        (&json!(name), &json!("running"))
    );
    assert!(libvirt_has(&name));
    assert_eq!(node.disk_files(), 1);
    assert_eq!(node.db.operation_states(), ["done"]);
    let uuid = list[0]["uuid"].as_str().unwrap();
    let deleted = node
        .client()
        .delete(node.url(&format!("/api/v1/vms/{uuid}")))
        .send()
        .unwrap();
    assert!(deleted.status().is_success());
    assert!(terminate(&mut child).success());
}
