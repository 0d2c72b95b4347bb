//! Every saga, every step: a failure there leaves nothing behind (create) or still removes the
//! record (delete); and every step run twice still succeeds (omicron's
//! `action_failure_can_unwind` and `actions_succeed_idempotently`). test:///default, real
//! PostgreSQL, real files.

mod common;

use app::types::{BootOrder, VmStatus};
use common::{unique_name, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::host::domain_xml::DomainType;
use server::ops::vm_create::{CreateStep, CreateVm};
use server::ops::vm_delete::{DeleteStep, DeleteVm};
use server::ops::{recover, Failpoints, Saga, SagaStep};
use uuid::Uuid;

const CREATE_STEPS: [CreateStep; 5] = [
    CreateStep::Record,
    CreateStep::Disk,
    CreateStep::Define,
    CreateStep::Start,
    CreateStep::Finish,
];
const DELETE_STEPS: [DeleteStep; 4] = [
    DeleteStep::Mark,
    DeleteStep::RemoveDomain,
    DeleteStep::RemoveDisk,
    DeleteStep::RemoveRecord,
];

fn body(name: &str) -> Value {
    json!({ "name": name, "cpu": 1, "memory": 128, "disk_size": 1, "start": true })
}

#[tokio::test]
async fn a_create_failing_at_any_step_leaves_nothing_behind() {
    for step in CREATE_STEPS {
        let app = TestApp::spawn_with_failpoint(&format!("vm_create.{}:error", step.name())).await;
        let name = unique_name("unwind");
        let response = app.post_json("/api/v1/vms", body(&name)).await;
        assert_eq!(
            response.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "{step:?}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "VM_CREATION_FAILED");
        let message = error["error"].as_str().unwrap();
        assert!(
            message.contains(&format!("step \"{}\"", step.name())),
            "{message}"
        );

        assert_eq!(
            app.db.count_vms(),
            0,
            "no record after a failure at {step:?}"
        );
        assert!(
            app.disk_files().is_empty(),
            "no disk after a failure at {step:?}"
        );
        assert!(
            !app.domain_exists(&name),
            "no domain after a failure at {step:?}"
        );
        assert_eq!(app.db.operation_states(), ["undone"], "{step:?}");
    }
}

#[tokio::test]
async fn a_delete_failing_at_any_step_still_ends_with_the_record_gone() {
    for step in DELETE_STEPS {
        let app = TestApp::spawn_with_failpoint(&format!("vm_delete.{}:error", step.name())).await;
        let name = unique_name("forward");
        let vm: Value = app.post_for_json("/api/v1/vms", body(&name)).await;
        let uuid = vm["uuid"].as_str().unwrap().to_string();
        let response = app.delete(&format!("/api/v1/vms/{uuid}")).await;

        if step.required() {
            // The delete cannot go on without this step: an error now, finished by `recover`.
            assert!(response.status().is_server_error(), "{step:?}");
            assert_eq!(app.db.count_vms(), 1, "{step:?}");
            assert_eq!(app.db.operation_states().last().unwrap(), "running");
            // As after a restart: the same database and hypervisor, no failpoint.
            let mut restarted = app.ops.clone();
            restarted.failpoints = Failpoints::none();
            let report = recover(&restarted).await.unwrap();
            assert_eq!(report.len(), 1);
            assert_eq!(report[0].outcome, "finished", "{step:?}");
        } else {
            // The rest is cleaned; what failed is reported.
            assert_eq!(response.status(), StatusCode::OK, "{step:?}");
            let report: Value = response.json().await.unwrap();
            let leftovers = report["leftovers"].as_array().unwrap();
            assert_eq!(leftovers.len(), 1, "{report}");
            assert!(
                leftovers[0].as_str().unwrap().contains("injected failure"),
                "{report}"
            );
            assert_eq!(app.db.operation_states().last().unwrap(), "failed");
        }
        assert_eq!(
            app.db.count_vms(),
            0,
            "the record is gone after a failure at {step:?}"
        );
        let domain_left = step == DeleteStep::RemoveDomain;
        let disk_left = step == DeleteStep::RemoveDisk;
        assert_eq!(app.domain_exists(&name), domain_left, "{step:?}");
        assert_eq!(!app.disk_files().is_empty(), disk_left, "{step:?}");
        // Clean what this test deliberately left behind in the shared test driver.
        if domain_left {
            app.ops
                .host
                .destroy_and_undefine(Uuid::parse_str(&uuid).unwrap())
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn every_step_run_twice_still_succeeds() {
    let app = TestApp::spawn().await;
    let cx = &app.ops;
    let id = Uuid::new_v4();
    let base = app.data_dir.0.join("images/base.qcow2");
    cx.disks.create_blank(&base, 1).await.unwrap();
    let iso = app.data_dir.0.join("isos/install.iso");
    std::fs::write(&iso, b"not really an ISO").unwrap();
    let create = CreateVm {
        vm: id,
        name: unique_name("twice"),
        owner: Some(common::ADMIN.into()),
        cpu: 1,
        memory_mib: 128,
        disk_size_gib: 1,
        os_type: "linux".into(),
        boot_order: BootOrder::CdromHd,
        disk_path: cx.disks.path_for(id),
        domain_type: DomainType::Test,
        start: true,
        iso: Some(("install.iso".into(), iso)),
        base_image: Some((base, "qcow2".into())),
    };
    assert_eq!(create.steps(), CREATE_STEPS);
    for step in create.steps() {
        create.run_step(cx, step).await.unwrap();
        create
            .run_step(cx, step)
            .await
            .unwrap_or_else(|e| panic!("{step:?} twice: {e}"));
    }
    assert_eq!(app.db.count_vms(), 1);
    assert_eq!(app.disk_files().len(), 1);
    assert!(
        app.data_dir.0.join("images/base.qcow2").exists(),
        "the base is never removed"
    );
    let observed = cx.host.observe(id).await.unwrap();
    assert_eq!(observed.status, Some(VmStatus::Running));

    // Undo twice too: still nothing left.
    for step in create.steps().into_iter().rev() {
        create.undo_step(cx, step).await.unwrap();
        create
            .undo_step(cx, step)
            .await
            .unwrap_or_else(|e| panic!("undo {step:?} twice: {e}"));
    }
    assert_eq!(app.db.count_vms(), 0);
    assert!(app.disk_files().is_empty());
    assert!(cx.host.observe(id).await.unwrap().status.is_none());

    // And the delete steps, on a fresh VM.
    for step in create.steps() {
        create.run_step(cx, step).await.unwrap();
    }
    let delete = DeleteVm {
        vm: id,
        disk_path: create.disk_path.clone(),
    };
    assert_eq!(delete.steps(), DELETE_STEPS);
    for step in delete.steps() {
        delete.run_step(cx, step).await.unwrap();
        delete
            .run_step(cx, step)
            .await
            .unwrap_or_else(|e| panic!("{step:?} twice: {e}"));
    }
    assert_eq!(app.db.count_vms(), 0);
    assert!(app.disk_files().is_empty());
    assert!(cx.host.observe(id).await.unwrap().status.is_none());
}
