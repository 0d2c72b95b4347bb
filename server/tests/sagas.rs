//! Every registered saga (`ops::registry::SAGAS`), every step: a failure there leaves nothing
//! behind (sagas that unwind) or the operation finished as far as it can go (sagas that go on);
//! and every step run twice still succeeds (omicron's `action_failure_can_unwind` and
//! `actions_succeed_idempotently`). A saga added to the registry is tested here without a line
//! of its own. Then the same through the API, for create and delete. test:///default, real
//! PostgreSQL, real files.

mod common;

use app::types::{BootOrder, VmStatus};
use common::{image_counts, unique_name, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::host::domain_xml::DomainType;
use server::ops::registry::SAGAS;
use server::ops::vm_create::{CreateStep, CreateVm};
use server::ops::vm_delete::{DeleteStep, DeleteVm};
use server::ops::{Failpoints, OnFailure, Saga, SagaKind, SagaStep};
use uuid::Uuid;

/// What exists of one VM, each asked of its own store (not through the code under test).
#[derive(Debug, Clone, PartialEq, Eq)]
struct World {
    /// The record's status, if there is a record.
    record: Option<String>,
    disk: bool,
    domain: bool,
    /// How many files the base-image library holds: visible, and hidden (partial).
    images: (usize, usize),
    /// How many snapshots libvirt has of the VM, and how many Limen records.
    snapshots: (u32, i64),
}

fn world(app: &TestApp, vm: Uuid) -> World {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Status {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
    }
    let record = diesel::sql_query(format!("SELECT status FROM vms WHERE uuid = '{vm}'"))
        .load::<Status>(&mut app.db.connect())
        .unwrap()
        .pop()
        .map(|row| row.status);
    World {
        record,
        disk: app.data_dir.0.join(format!("disks/{vm}.qcow2")).exists(),
        domain: app.libvirt().lookup_domain_by_uuid(vm).is_ok(),
        images: image_counts(&app.data_dir.0),
        snapshots: (
            app.libvirt()
                .lookup_domain_by_uuid(vm)
                .and_then(|domain| domain.num_snapshots(0))
                .unwrap_or(0),
            app.db.count(&format!(
                "SELECT count(*) AS n FROM snapshots WHERE vm_uuid = '{vm}'"
            )),
        ),
    }
}

/// A kind's example on a fresh app: its parameters, the VM, and the world before it ran.
async fn example(app: &TestApp, kind: &dyn SagaKind) -> (Value, Uuid, World) {
    let params = kind.example(&app.sagas).await.unwrap();
    let vm = kind.vm_of(&params).unwrap();
    let before = world(app, vm);
    (params, vm, before)
}

/// What the world looks like after the kind's example ran with nothing failing.
async fn clean_run(kind: &dyn SagaKind) -> (Vec<(&'static str, bool)>, World, World) {
    let app = TestApp::spawn().await;
    let (params, vm, before) = example(&app, kind).await;
    let leftovers = kind.execute(&app.sagas, &params).await.unwrap();
    assert!(leftovers.is_empty(), "{}: {leftovers:?}", kind.name());
    (kind.steps_of(&params).unwrap(), before, world(&app, vm))
}

/// A step fails before it runs (`error`), or runs and then fails (`error_after`: its effect is
/// there, as when its answer is lost, and must be undone too).
const FAILURE_MODES: [&str; 2] = ["error", "error_after"];

#[tokio::test]
async fn every_saga_failing_at_any_step_ends_consistent() {
    for kind in SAGAS.iter().copied() {
        let (steps, clean_before, clean_after) = clean_run(kind).await;
        for ((step, required), mode) in steps
            .iter()
            .flat_map(|step| FAILURE_MODES.map(|mode| (*step, mode)))
        {
            let point = format!("{}.{step}:{mode}", kind.name());
            let app = TestApp::spawn_with_failpoint(&point).await;
            let (params, vm, before) = example(&app, kind).await;
            assert_eq!(before, clean_before, "{point}: the same stage every time");
            let result = kind.execute(&app.sagas, &params).await;
            let states = app.db.operation_states();
            match (kind.on_failure(), required) {
                (OnFailure::Unwind, _) => {
                    let failure = result.expect_err(&point);
                    assert_eq!(failure.step, step, "{point}");
                    assert_eq!(world(&app, vm), before, "{point}: nothing left behind");
                    assert_eq!(states.last().unwrap(), "undone", "{point}");
                }
                (OnFailure::Continue, true) => {
                    // It cannot go on without this step: left for recovery, which finishes it.
                    assert_eq!(result.expect_err(&point).step, step);
                    assert_eq!(states.last().unwrap(), "running", "{point}");
                    let restarted = app.sagas.with_failpoints(Failpoints::none());
                    let report = restarted.recover().await.unwrap();
                    assert_eq!(report.len(), 1, "{point}");
                    assert_eq!(report[0].outcome, "finished", "{point}");
                    assert_eq!(world(&app, vm), clean_after, "{point}");
                }
                (OnFailure::Continue, false) => {
                    // It goes on, and says what it could not do…
                    let leftovers = result.expect(&point);
                    assert_eq!(leftovers.len(), 1, "{point}: {leftovers:?}");
                    assert!(leftovers[0].contains("injected failure"), "{leftovers:?}");
                    assert_eq!(states.last().unwrap(), "failed", "{point}");
                    // …and running it again completes the job.
                    let again = app.sagas.with_failpoints(Failpoints::none());
                    assert!(kind.execute(&again, &params).await.unwrap().is_empty());
                    assert_eq!(world(&app, vm), clean_after, "{point}");
                }
            }
        }
    }
}

#[tokio::test]
async fn every_saga_step_run_twice_still_succeeds() {
    for kind in SAGAS.iter().copied() {
        let (_, _, clean_after) = clean_run(kind).await;
        let app = TestApp::spawn().await;
        let (params, vm, before) = example(&app, kind).await;
        let cx = app.cx();
        let steps = kind.steps_of(&params).unwrap();
        for (step, _) in &steps {
            kind.run_step(cx, &params, step).await.unwrap();
            kind.run_step(cx, &params, step)
                .await
                .unwrap_or_else(|e| panic!("{}.{step} twice: {e}", kind.name()));
        }
        assert_eq!(world(&app, vm), clean_after, "{}", kind.name());
        if kind.on_failure() == OnFailure::Unwind {
            for (step, _) in steps.iter().rev() {
                kind.undo_step(cx, &params, step).await.unwrap();
                kind.undo_step(cx, &params, step)
                    .await
                    .unwrap_or_else(|e| panic!("undo {}.{step} twice: {e}", kind.name()));
            }
            assert_eq!(world(&app, vm), before, "{}: all undone", kind.name());
        }
    }
}

fn body(name: &str) -> Value {
    json!({ "name": name, "cpu": 1, "memory": 128, "disk_size": 1, "start": true })
}

#[tokio::test]
async fn a_create_failing_at_any_step_leaves_nothing_behind() {
    let points = CreateStep::ALL
        .iter()
        .flat_map(|step| FAILURE_MODES.map(|mode| (step, mode)));
    for (step, mode) in points {
        let failpoint = format!("vm_create.{}:{mode}", step.name());
        let app = TestApp::spawn_with_failpoint(&failpoint).await;
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
    for &step in DeleteStep::ALL {
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
            let restarted = app.sagas.with_failpoints(Failpoints::none());
            let report = restarted.recover().await.unwrap();
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
            app.host()
                .destroy_and_undefine(Uuid::parse_str(&uuid).unwrap())
                .await
                .unwrap();
        }
    }
}

/// The create saga with every option (an ISO, a base image for a copy-on-write disk), each
/// step twice and each undo twice, then the delete saga's steps twice.
#[tokio::test]
async fn every_step_run_twice_still_succeeds() {
    let app = TestApp::spawn().await;
    let cx = app.cx();
    let id = Uuid::new_v4();
    let base = app.data_dir.0.join("images/base.qcow2");
    cx.disks.create_blank(&base, 1).await.unwrap();
    let iso = app.data_dir.0.join("isos/install.iso");
    std::fs::write(&iso, b"not really an ISO").unwrap();
    let create = CreateVm {
        vm: id,
        name: unique_name("twice"),
        host: app.host().key().clone(),
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
    assert_eq!(create.steps(), CreateStep::ALL);
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
    let observed = app.host().observe(id).await.unwrap();
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
    assert!(app.host().observe(id).await.unwrap().status.is_none());

    // And the delete steps, on a fresh VM.
    for step in create.steps() {
        create.run_step(cx, step).await.unwrap();
    }
    let delete = DeleteVm {
        vm: id,
        host: create.host.clone(),
        disk_path: create.disk_path.clone(),
    };
    assert_eq!(delete.steps(), DeleteStep::ALL);
    for step in delete.steps() {
        delete.run_step(cx, step).await.unwrap();
        delete
            .run_step(cx, step)
            .await
            .unwrap_or_else(|e| panic!("{step:?} twice: {e}"));
    }
    assert_eq!(app.db.count_vms(), 0);
    assert!(app.disk_files().is_empty());
    assert!(app.host().observe(id).await.unwrap().status.is_none());
}

/// Recovery refuses what it cannot read instead of guessing: an operation of an unknown kind,
/// or one that recorded a step this version does not have, is reported and left alone.
#[tokio::test]
async fn recovery_refuses_unknown_kinds_and_step_names() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn().await;
    let vm = Uuid::new_v4();
    let params = json!({
        "vm": vm, "disk_path": app.cx().disks.path_for(vm),
    });
    for (kind, steps) in [("vm_teleport", "{}"), ("vm_delete", "{mark,vaporize}")] {
        diesel::sql_query(format!(
            "INSERT INTO operations (id, kind, vm_uuid, params, steps_started) \
             VALUES ('{}', '{kind}', '{vm}', '{params}', '{steps}')",
            Uuid::new_v4()
        ))
        .execute(&mut app.db.connect())
        .unwrap();
    }
    let report = app.sagas.recover().await.unwrap();
    assert_eq!(report.len(), 2);
    assert!(report[0].outcome.starts_with("failed:"), "{report:?}");
    assert!(report[0]
        .outcome
        .contains("does not know operations of kind"));
    assert!(report[1].outcome.contains("\"vaporize\""), "{report:?}");
    assert_eq!(app.db.operation_states(), ["running", "running"]);
}
