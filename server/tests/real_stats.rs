//! The statistics collector on a real QEMU guest (real libvirtd, TCG): a booting guest shows
//! CPU time and disk reads; a stopped VM's series stops; a VM started again counts from zero
//! (its first round has no rate, the next ones are never negative and never larger than what
//! its fresh counters hold). libvirt's test driver proves the API (tests/api_stats.rs).
//!
//! Needs `LIMEN_TEST_GUEST_DIR` (the output of scripts/test-guest.sh; `make test` sets it) and a
//! libvirt daemon on qemu:///system.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::guest::{step, stock_libraries, Api, BOOT_LIMIT};
use common::process::{DomainCleanup, LIBVIRT};
use common::{unique_name, TestApp, TestDb};
use serde_json::json;
use server::stats::sampler::{Round, VmSample};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The next round (the collector runs every second).
async fn next_round(rounds: &mut broadcast::Receiver<Arc<Round>>) -> Arc<Round> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), rounds.recv()).await {
            Ok(Ok(round)) => return round,
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            other => panic!("no statistics round: {other:?}"),
        }
    }
}

fn sample_of(round: &Round, vm: Uuid) -> Option<VmSample> {
    round.vms.iter().find(|s| s.labels.uuid == vm).cloned()
}

/// Rounds until `done` says a sample of `vm` is what was waited for, within `limit`.
async fn wait_for_sample(
    rounds: &mut broadcast::Receiver<Arc<Round>>,
    vm: Uuid,
    limit: Duration,
    mut done: impl FnMut(&VmSample) -> bool,
) -> VmSample {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(sample) = sample_of(&*next_round(rounds).await, vm) {
            if done(&sample) {
                return sample;
            }
        }
    }
    panic!("no such sample of {vm} within {limit:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_real_guest_shows_its_work_stops_and_starts_again_from_zero() {
    let began = Instant::now();
    let app = TestApp::spawn_with(TestDb::new(), LIBVIRT).await;
    stock_libraries(&app, &[("images", "limen-guest.qcow2")]);
    let api = Api { app: &app };
    let name = unique_name("stats-guest");
    let _cleanup = DomainCleanup(vec![name.clone()]);
    let (id, _) = api
        .create(json!({
            "name": name, "cpu": 1, "memory": 256, "disk_size": 1,
            "image": "limen-guest.qcow2", "boot_order": "hd",
        }))
        .await;
    let vm = Uuid::parse_str(&id).unwrap();
    let mut rounds = app.cx().stats.subscribe();
    let stop = CancellationToken::new();
    tokio::spawn(server::background::collector::run(
        app.cx().clone(),
        app.host(),
        Duration::from_secs(1),
        30,
        stop.clone(),
    ));

    // Stopped: rounds come, without a sample of it.
    let round = next_round(&mut rounds).await;
    assert!(sample_of(&round, vm).is_none());
    assert!(round
        .managed
        .iter()
        .any(|(labels, running)| labels.uuid == vm && !running));

    // Booting: CPU time and disk reads (the kernel and initramfs come off the disk).
    api.act(&id, "start").await;
    step(began, "started");
    let first = wait_for_sample(&mut rounds, vm, Duration::from_secs(10), |_| true).await;
    assert_eq!(
        first.point.cpu_percent, None,
        "no rate on a VM's first round"
    );
    let busy = wait_for_sample(&mut rounds, vm, BOOT_LIMIT, |s| {
        s.point.cpu_percent.is_some_and(|cpu| cpu > 0.0)
            && s.point.disk_read_bps.is_some_and(|bps| bps > 0.0)
    })
    .await;
    let cpu = busy.point.cpu_percent.unwrap();
    assert!(cpu <= 100.0, "{cpu}");
    assert!(busy.point.memory_kib.unwrap() > 0.0);
    step(began, &format!("busy: {cpu:.0} % CPU"));
    // The API's hour has the points too.
    let hour = api.get(&format!("/api/v1/vms/{id}/stats?range=1h")).await;
    let points = hour["points"].as_array().unwrap();
    assert!(
        points
            .iter()
            .any(|p| p["cpu_percent"].as_f64().unwrap_or(0.0) > 0.0),
        "{hour}"
    );

    // Stopped: its series stops (rounds go on without it).
    api.act(&id, "stop").await;
    let stopped_at = Instant::now();
    loop {
        let round = next_round(&mut rounds).await;
        if sample_of(&round, vm).is_none() {
            break;
        }
        assert!(
            stopped_at.elapsed() < Duration::from_secs(10),
            "still sampled after its stop"
        );
    }
    for _ in 0..2 {
        assert!(
            sample_of(&*next_round(&mut rounds).await, vm).is_none(),
            "sampled while stopped"
        );
    }
    let counted = api.get(&format!("/api/v1/vms/{id}/stats?range=1h")).await["points"]
        .as_array()
        .unwrap()
        .len();
    next_round(&mut rounds).await;
    let later = api.get(&format!("/api/v1/vms/{id}/stats?range=1h")).await["points"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(later, counted, "no new points while stopped");
    step(began, "stopped: its series stopped");

    // Started again: counters from zero; the first round has no rate, then rates are never
    // negative and never more than what the fresh counters hold.
    api.act(&id, "start").await;
    let again = wait_for_sample(&mut rounds, vm, Duration::from_secs(10), |_| true).await;
    assert_eq!(
        again.point.cpu_percent, None,
        "counted from zero after a start"
    );
    for _ in 0..3 {
        let sample = wait_for_sample(&mut rounds, vm, Duration::from_secs(10), |_| true).await;
        let point = sample.point;
        for (what, rate, total) in [
            (
                "disk read",
                point.disk_read_bps,
                sample.counters.disk_read_bytes_total,
            ),
            (
                "disk write",
                point.disk_write_bps,
                sample.counters.disk_write_bytes_total,
            ),
            (
                "net rx",
                point.net_rx_bps,
                sample.counters.net_rx_bytes_total,
            ),
        ] {
            let rate = rate.expect("a rate after the first round");
            assert!(rate >= 0.0, "{what}: {rate}");
            // A round is at least ~1 s apart: a rate is at most what the counter holds per second.
            assert!(
                rate <= total as f64 * 1.5 + 1.0,
                "{what}: {rate} from a total of {total}"
            );
        }
        let cpu = point.cpu_percent.expect("a CPU rate");
        assert!((0.0..=100.0).contains(&cpu), "{cpu}");
    }
    step(began, "started again: rates from zero");
    stop.cancel();
    api.act(&id, "stop").await;
}
