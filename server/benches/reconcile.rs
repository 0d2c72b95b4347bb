//! Benchmark (not a test): one full reconcile over many domains, on libvirt's test driver.
//!   LIMEN_BENCH_DATABASE_URL=postgres://… cargo bench -p server --bench reconcile [-- DOMAINS]
//! `scripts/bench-live.sh` runs it with a fresh database. Every domain has a record (the usual
//! case: a managed host); the figure is the wall time of `reconcile::reconcile`.

use std::time::Instant;

use app::types::{BootOrder, InstallationStatus, VmStatus};
use server::config::{Config, DomainTypeSetting};
use server::db::models::NewVmRow;
use server::db::{vms, Db};
use server::host::domain_xml::{DomainSpec, DomainType};
use server::reconcile::{reconcile, Mode};
use uuid::Uuid;

fn main() {
    let domains: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(10_000);
    let url = std::env::var("LIMEN_BENCH_DATABASE_URL")
        .expect("set LIMEN_BENCH_DATABASE_URL (scripts/bench-live.sh does)");
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
        let sagas = state.vms.sagas().clone();
        let host = sagas.context().hosts.local().clone();

        let setup = Instant::now();
        let mut rows = Vec::with_capacity(domains);
        for i in 0..domains {
            let uuid = Uuid::new_v4();
            let name = format!("rc-{i}");
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
            rows.push(NewVmRow {
                uuid,
                name,
                owner: None,
                vcpus: 1,
                memory_mib: 64,
                disk_size_gb: 1,
                disk_path: data_dir
                    .join(format!("disks/{uuid}.qcow2"))
                    .to_string_lossy()
                    .into_owned(),
                os_type: "linux".into(),
                boot_order: BootOrder::Hd,
                installation_status: InstallationStatus::NotInstalled,
                current_media: None,
                role: None,
                status: VmStatus::Stopped,
                status_generation: 0,
                host: host.key().to_string(),
                generation: host.fresh_generation(),
                base_image: None,
            });
        }
        db.run(move |conn| {
            for row in &rows {
                vms::vm_insert(conn, row)?;
            }
            Ok(())
        })
        .await
        .unwrap();
        println!("set up {domains} domains and records in {:.1} s", setup.elapsed().as_secs_f64());

        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            let report = reconcile(&sagas, Mode::Repair).await.unwrap();
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            assert!(report.missing.is_empty() && report.drift.is_empty());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "reconcile of {domains} domains (+ the driver's own): min {:.0} ms, median {:.0} ms, max {:.0} ms",
            times[0],
            times[times.len() / 2],
            times[times.len() - 1]
        );
        state.shutdown.cancel();
        let _ = std::fs::remove_dir_all(&data_dir);
    });
}
