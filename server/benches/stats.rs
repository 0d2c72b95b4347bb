//! Benchmark (not a test): the statistics collector at scale, on libvirt's test driver.
//!   LIMEN_BENCH_DATABASE_URL=postgres://… cargo bench -p server --bench stats [-- DOMAINS]
//! `scripts/bench-stats.sh` runs it with a fresh database. Every domain runs and has a record.
//! It prints:
//! - one round's wall time and the process CPU time it costs (the bulk libvirt call, the
//!   records read, the rates, the hour kept, the gauges), and what that is per minute and as a
//!   share of one core at the default period of 5 s; the test driver reports state only, so
//!   reading a real QEMU domain's ~40 typed parameters is measured beside it (pure parsing);
//! - the memory of the in-memory hour for DOMAINS running VMs (720 points each at 5 s);
//! - the database growth per day (one hour of per-minute rows written, measured, × 24).

use std::time::Instant;

use app::stats::VmStatsPoint;
use app::types::{BootOrder, InstallationStatus, VmAction, VmStatus};
use server::config::{Config, DomainTypeSetting};
use server::db::models::NewVmRow;
use server::db::stats::{insert_vm_minutes, VmMinute};
use server::db::{vms, Db};
use server::host::domain_xml::{DomainSpec, DomainType};
use server::host::stats::{counters_from, StatValue};
use server::stats::history::History;
use server::stats::sampler::{Round, Sampler, VmLabels, VmSample};
use uuid::Uuid;

/// The process's CPU time (user + system), in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Resident memory now, in bytes.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn stats(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    (mean, values[values.len() / 2], values[values.len() - 1])
}

/// A real QEMU domain's typed parameters (one disk, one interface, a balloon): ~40.
fn qemu_like_params() -> Vec<(String, StatValue)> {
    let mut params: Vec<(String, StatValue)> = vec![
        ("state.state".into(), StatValue::Int(1)),
        ("state.reason".into(), StatValue::Int(1)),
        ("cpu.time".into(), StatValue::UInt(123_456_789_000)),
        ("cpu.user".into(), StatValue::UInt(100_000_000)),
        ("cpu.system".into(), StatValue::UInt(20_000_000)),
        ("balloon.current".into(), StatValue::UInt(1_048_576)),
        ("balloon.maximum".into(), StatValue::UInt(1_048_576)),
        ("balloon.available".into(), StatValue::UInt(1_000_000)),
        ("balloon.unused".into(), StatValue::UInt(600_000)),
        ("balloon.usable".into(), StatValue::UInt(700_000)),
        ("balloon.rss".into(), StatValue::UInt(900_000)),
        ("net.count".into(), StatValue::UInt(1)),
        ("net.0.name".into(), StatValue::Text("vnet0".into())),
        ("block.count".into(), StatValue::UInt(2)),
    ];
    for field in [
        "rx.bytes", "rx.pkts", "rx.errs", "rx.drop", "tx.bytes", "tx.pkts", "tx.errs", "tx.drop",
    ] {
        params.push((format!("net.0.{field}"), StatValue::UInt(1_000)));
    }
    for disk in 0..2 {
        params.push((format!("block.{disk}.name"), StatValue::Text("vda".into())));
        for field in [
            "rd.reqs",
            "rd.bytes",
            "rd.times",
            "wr.reqs",
            "wr.bytes",
            "wr.times",
            "fl.reqs",
            "allocation",
            "capacity",
            "physical",
        ] {
            params.push((format!("block.{disk}.{field}"), StatValue::UInt(4_096)));
        }
    }
    params
}

fn main() {
    let domains: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(1_000);
    let url = std::env::var("LIMEN_BENCH_DATABASE_URL")
        .expect("set LIMEN_BENCH_DATABASE_URL (scripts/bench-stats.sh does)");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let data_dir = std::env::temp_dir().join(format!("limen-bench-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&data_dir).unwrap();
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: url.clone(),
            libvirt_uri: "test:///default".into(),
            domain_type: DomainTypeSetting::Auto,
            data_dir: data_dir.clone(),
            reconcile_secs: 0,
            console_autostart: false,
            iso_upload_max_mb: 64,
            image_copy_mb_per_s: 0,
            max_snapshots_per_vm: 20,
            snapshot_sweep_secs: 10,
            stats_secs: 5,
            stats_retention_days: 30,
            metrics_token: None,
            ssh_keyfile: None,
            session_hours: 1,
            secure_cookie: false,
            public_url: None,
            trusted_proxies: Vec::new(),
            site_root: data_dir.join("site"),
            tls: server::config::TlsSetting::Off,
            log_format: server::config::LogFormat::Text,
            failpoint: None,
            file: None,
        };
        let db = Db::connect(&url).unwrap();
        db.migrate().await.unwrap();
        let state = server::build_state(&config, db.clone()).unwrap();
        server::load_hosts(&state, &config).await.unwrap();
        let cx = state.vms.sagas().context().clone();
        let host = cx.hosts.local().clone();

        let setup = Instant::now();
        let mut rows = Vec::with_capacity(domains);
        for i in 0..domains {
            let uuid = Uuid::new_v4();
            let name = format!("st-{i}");
            host.define(DomainSpec {
                uuid,
                name: name.clone(),
                domain_type: DomainType::Test,
                vcpus: 1,
                memory_mib: 64,
                disk_path: data_dir.join(format!("disks/{uuid}.qcow2")),
                cdrom_path: None,
                boot_order: BootOrder::Hd,
            })
            .await
            .unwrap();
            host.act(uuid, VmAction::Start).await.unwrap();
            rows.push(NewVmRow {
                uuid,
                name,
                owner: None,
                vcpus: 1,
                memory_mib: 64,
                disk_size_gb: 1,
                disk_path: data_dir.join(format!("disks/{uuid}.qcow2")).to_string_lossy().into_owned(),
                os_type: "linux".into(),
                boot_order: BootOrder::Hd,
                installation_status: InstallationStatus::NotInstalled,
                current_media: None,
                role: None,
                status: VmStatus::Running,
                status_generation: 0,
                host: host.key().to_string(),
                generation: host.fresh_generation(),
                base_image: None,
            });
        }
        let uuids: Vec<Uuid> = rows.iter().map(|row| row.uuid).collect();
        db.run(move |conn| {
            for row in &rows {
                vms::vm_insert(conn, row)?;
            }
            Ok(())
        })
        .await
        .unwrap();
        println!("set up {domains} running domains and records in {:.1} s", setup.elapsed().as_secs_f64());

        // 1. Rounds, back to back.
        let mut sampler = Sampler::default();
        let (mut walls, mut cpus) = (Vec::new(), Vec::new());
        for _ in 0..30 {
            let (wall, cpu) = (Instant::now(), cpu_seconds());
            let round = server::background::collector::collect(&cx, &host, &mut sampler).await.unwrap();
            assert_eq!(round.vms.len(), domains);
            cx.stats.record(round);
            walls.push(wall.elapsed().as_secs_f64() * 1000.0);
            cpus.push((cpu_seconds() - cpu) * 1000.0);
        }
        let (wall_mean, wall_median, wall_max) = stats(walls);
        let (cpu_mean, _, _) = stats(cpus);
        // Reading real QEMU domains' parameters, which the test driver does not have.
        let params = qemu_like_params();
        let parse = Instant::now();
        for uuid in &uuids {
            std::hint::black_box(counters_from(*uuid, &params));
        }
        let parse_ms = parse.elapsed().as_secs_f64() * 1000.0;
        let per_round = cpu_mean + parse_ms;
        println!(
            "one round of {domains} VMs: wall mean {wall_mean:.1} ms, median {wall_median:.1} ms, max {wall_max:.1} ms; \
             CPU {cpu_mean:.1} ms (+ {parse_ms:.1} ms to read {} parameters per real QEMU domain)",
            params.len()
        );
        println!(
            "server CPU: {:.0} ms per minute at 5 s, {:.2} % of one core",
            per_round * 12.0,
            per_round / 5_000.0 * 100.0
        );

        // 2. The in-memory hour of DOMAINS running VMs at 5 s.
        let before = rss_bytes();
        let mut history = History::new(5);
        let labels: Vec<VmLabels> = uuids
            .iter()
            .map(|uuid| VmLabels {
                uuid: *uuid,
                name: String::new(),
                owner: None,
                role: None,
                vcpus: 1,
                memory_mib: 64,
            })
            .collect();
        let point = |at| VmStatsPoint {
            at,
            cpu_percent: Some(12.5),
            memory_kib: Some(65_536.0),
            memory_used_kib: Some(30_000.0),
            disk_read_bps: Some(1.0),
            disk_write_bps: Some(2.0),
            disk_read_iops: Some(3.0),
            disk_write_iops: Some(4.0),
            net_rx_bps: Some(5.0),
            net_tx_bps: Some(6.0),
        };
        for step in 0..720 {
            let at = 1_800_000_000 + step * 5;
            let round = Round {
                host: "local".into(),
                at,
                vms: labels
                    .iter()
                    .map(|labels| VmSample {
                        labels: labels.clone(),
                        point: point(at),
                        counters: Default::default(),
                    })
                    .collect(),
                ..Round::default()
            };
            history.push(&round);
        }
        println!(
            "the in-memory hour of {domains} VMs (720 points each): {:.1} MB of points, process RSS +{:.1} MB",
            history.bytes() as f64 / 1e6,
            rss_bytes().saturating_sub(before) as f64 / 1e6
        );

        // 3. Database growth: one hour of per-minute rows, × 24.
        let size = |db: Db| async move {
            db.run(|conn| {
                use diesel::prelude::*;
                #[derive(QueryableByName)]
                struct Size {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    bytes: i64,
                }
                let size: Size = diesel::sql_query("SELECT pg_total_relation_size('vm_stats') AS bytes").get_result(conn)?;
                Ok(size.bytes)
            })
            .await
            .unwrap()
        };
        let start_size = size(db.clone()).await;
        let mut insert_ms = Vec::new();
        for minute in 0..60 {
            let at = chrono::DateTime::from_timestamp(1_800_000_000 + minute * 60, 0).unwrap();
            let rows: Vec<VmMinute> = uuids
                .iter()
                .map(|vm| VmMinute { vm: *vm, minute: at, point: point(at.timestamp()) })
                .collect();
            let started = Instant::now();
            db.run(move |conn| insert_vm_minutes(conn, &rows)).await.unwrap();
            insert_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let grown = size(db.clone()).await - start_size;
        let (insert_mean, _, insert_max) = stats(insert_ms);
        println!(
            "database: a minute of {domains} VMs written in {insert_mean:.0} ms (max {insert_max:.0} ms); \
             +{:.1} MB per hour, {:.0} MB per day, {:.1} GB for 30 days",
            grown as f64 / 1e6,
            grown as f64 * 24.0 / 1e6,
            grown as f64 * 24.0 * 30.0 / 1e9
        );
        state.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&data_dir);
    });
}
