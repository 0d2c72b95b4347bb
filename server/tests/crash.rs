//! Crash safety with the real binary and a real libvirtd (qemu:///system, TCG): for every
//! registered saga (`ops::registry::SAGAS`) and every step of it, the process running the saga
//! is aborted right after the step; the next start finishes or undoes the operation, and
//! nothing leaks (record, disk, domain). A saga added to the registry is covered here without
//! a line of its own.
//!
//! Needs a libvirt daemon answering on qemu:///system (`make test` starts one).

mod common;

use std::process::Stdio;

use common::image_counts;
use common::process::{limen, output_of, terminate, Node, UuidCleanup, LIBVIRT};
use serde_json::Value;
use server::ops::registry::SAGAS;
use server::ops::{OnFailure, SagaKind};
use uuid::Uuid;

/// What exists of one VM, each asked of its own store.
#[derive(Debug, Clone, PartialEq, Eq)]
struct World {
    record: Option<String>,
    disk: bool,
    domain: bool,
    /// How many files the base-image library holds: visible, and hidden (partial).
    images: (usize, usize),
    /// How many snapshots libvirt has of the VM, and how many Limen records.
    snapshots: (u32, i64),
}

fn world(node: &Node, vm: Uuid) -> World {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Status {
        #[diesel(sql_type = diesel::sql_types::Text)]
        status: String,
    }
    virt::error::clear_error_callback();
    let conn = virt::connect::Connect::open(Some(LIBVIRT))
        .expect("a libvirt daemon on qemu:///system (make test starts one)");
    let record = diesel::sql_query(format!("SELECT status FROM vms WHERE uuid = '{vm}'"))
        .load::<Status>(&mut node.db.connect())
        .map(|mut rows| rows.pop().map(|row| row.status))
        .unwrap_or(None);
    World {
        record,
        disk: node.data_dir.0.join(format!("disks/{vm}.qcow2")).exists(),
        domain: conn.lookup_domain_by_uuid(vm).is_ok(),
        images: image_counts(&node.data_dir.0),
        snapshots: (
            conn.lookup_domain_by_uuid(vm)
                .and_then(|domain| domain.num_snapshots(0))
                .unwrap_or(0),
            node.db.count(&format!(
                "SELECT count(*) AS n FROM snapshots WHERE vm_uuid = '{vm}'"
            )),
        ),
    }
}

/// `limen saga-example KIND`: the first line it prints is the saga's parameters.
fn run_example(
    node: &Node,
    kind: &str,
    failpoint: Option<&str>,
    setup_only: bool,
) -> (Value, std::process::ExitStatus) {
    let mut command = limen(&node.db.url, &node.data_dir, LIBVIRT, node.port);
    command.args(["saga-example", kind]).stdout(Stdio::piped());
    if setup_only {
        command.arg("--setup-only");
    }
    if let Some(failpoint) = failpoint {
        command.env("LIMEN_FAILPOINT", failpoint);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let first = stdout.lines().next().unwrap_or_else(|| {
        panic!(
            "saga-example {kind} printed nothing ({}): {}",
            output.status,
            output_of(&node.data_dir)
        )
    });
    (serde_json::from_str(first).unwrap(), output.status)
}

#[test]
fn every_saga_cut_off_after_any_step_is_finished_or_undone_at_the_next_start() {
    for kind in SAGAS.iter().copied() {
        cut_off_after_every_step(kind);
    }
}

fn cut_off_after_every_step(kind: &dyn SagaKind) {
    // The stage, and the world after a clean run, on a node of their own.
    let node = Node::new();
    let (params, status) = run_example(&node, kind.name(), None, true);
    assert!(status.success());
    let vm = kind.vm_of(&params).unwrap();
    let _cleanup = UuidCleanup(vec![vm]);
    let before = world(&node, vm);
    let node = Node::new();
    let (params, status) = run_example(&node, kind.name(), None, false);
    assert!(status.success(), "{}", output_of(&node.data_dir));
    let clean = kind.vm_of(&params).unwrap();
    let _cleanup_clean = UuidCleanup(vec![clean]);
    let after = world(&node, clean);
    let steps = kind.steps_of(&params).unwrap();
    let last = steps.last().unwrap().0;

    for (step, _) in steps {
        let point = format!("{}.{step}", kind.name());
        let node = Node::new();
        let (params, status) =
            run_example(&node, kind.name(), Some(&format!("{point}:abort")), false);
        let vm = kind.vm_of(&params).unwrap();
        let _cleanup = UuidCleanup(vec![vm]);
        assert!(!status.success(), "{point}: the process aborted");
        expect_abort_logged(&node, &point);

        // The next start recovers before it serves.
        let mut child = node.start(None);
        let expected = match kind.on_failure() {
            // Every step ran, only "done" was not written: the work is complete, so it stays.
            OnFailure::Unwind if step == last => &after,
            OnFailure::Unwind => &before,
            OnFailure::Continue => &after,
        };
        assert_eq!(&world(&node, vm), expected, "after a crash at {point}");
        let listed = node
            .list()
            .iter()
            .any(|listed| listed["uuid"] == vm.to_string().as_str());
        assert_eq!(listed, expected.record.is_some(), "{point}: the API agrees");
        let states = node.db.operation_states();
        assert!(
            states
                .iter()
                .all(|state| state == "done" || state == "undone"),
            "{point}: nothing left unfinished: {states:?}"
        );
        assert!(terminate(&mut child).success());
    }
}

/// The process died from the failpoint's abort, not from something else.
fn expect_abort_logged(node: &Node, point: &str) {
    let output = output_of(&node.data_dir);
    assert!(output.contains(&format!("failpoint {point}")), "{output}");
}
