//! The libvirt layer against libvirt's in-process test:///default driver.

use std::time::Duration;

use app::types::{BootOrder, VmAction, VmStatus};
use server::config::DomainTypeSetting;
use server::host::domain_xml::{DomainSpec, DomainType};
use server::host::events::HostSignal;
use server::host::{Host, HostError, HostKey};
use tokio::sync::mpsc::UnboundedReceiver;
use uuid::Uuid;

fn spec(name: &str) -> DomainSpec {
    DomainSpec {
        uuid: Uuid::new_v4(),
        name: name.into(),
        domain_type: DomainType::Test,
        vcpus: 1,
        memory_mib: 128,
        disk_path: "/nonexistent/disk.qcow2".into(),
        cdrom_path: None,
        boot_order: BootOrder::CdromHd,
    }
}

#[tokio::test]
async fn define_act_and_undefine() {
    let host = Host::new(HostKey::local(), "test:///default", DomainTypeSetting::Auto);
    let mut signals = host.watch();
    assert_eq!(host.domain_type().await.unwrap(), DomainType::Test);
    let limits = host.node_limits().await.unwrap();
    assert!(limits.cpus > 0 && limits.memory_mib > 0);

    let name = format!("host-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let spec = spec(&name);
    let id = spec.uuid;
    host.define(spec).await.unwrap();
    assert!(host.domain_name_exists(name.clone()).await.unwrap());
    assert_eq!(
        host.observe(id).await.unwrap().status,
        Some(VmStatus::Stopped)
    );
    let listed = host.domains().await.unwrap();
    assert_eq!(listed.domains[&id].name, name);
    assert_eq!(listed.domains[&id].status, VmStatus::Stopped);
    // libvirt's own event for the definition reached the host's signals.
    wait_for_signal(&mut signals, id).await;

    for (action, expected) in [
        (VmAction::Start, VmStatus::Running),
        (VmAction::Pause, VmStatus::Paused),
        (VmAction::Resume, VmStatus::Running),
        (VmAction::Stop, VmStatus::Stopped),
    ] {
        let observed = host.act(id, action).await.unwrap();
        assert_eq!(observed.status, Some(expected), "{action:?}");
        assert!(observed.changed, "{action:?} changed the state");
        wait_for_signal(&mut signals, id).await;
        // The live view answers without asking libvirt.
        assert_eq!(host.live().status(id), Some(Some(expected)));
    }
    // libvirt itself refuses nonsense; we classify it as a state problem, not a crash.
    assert!(matches!(
        host.act(id, VmAction::Stop).await,
        Err(HostError::InvalidState { .. })
    ));

    host.act(id, VmAction::Start).await.unwrap();
    host.destroy_and_undefine(id).await.unwrap();
    assert!(host.observe(id).await.unwrap().status.is_none());
    assert_eq!(host.live().status(id), Some(None));
    // Already gone is success.
    host.destroy_and_undefine(id).await.unwrap();
    assert!(matches!(
        host.act(id, VmAction::Start).await,
        Err(HostError::NoDomain)
    ));
}

#[tokio::test]
async fn an_unreachable_hypervisor_is_reported_as_such() {
    let host = Host::new(
        HostKey::local(),
        "qemu+tcp://127.0.0.1:1/system",
        DomainTypeSetting::Auto,
    );
    assert!(matches!(
        host.ping().await,
        Err(HostError::Unavailable { .. })
    ));
}

/// Waits (bounded) until libvirt's event for domain `id` arrives.
async fn wait_for_signal(signals: &mut UnboundedReceiver<HostSignal>, id: Uuid) {
    let wait = async {
        while let Some(signal) = signals.recv().await {
            if matches!(&signal, HostSignal::DomainChanged { uuid, host, .. } if *uuid == id && host.as_str() == "local")
            {
                return;
            }
        }
        panic!("the signal channel closed");
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .expect("no libvirt event for the domain within 10 s");
}

/// One bulk call reads every domain's counters, running or not (the collector's only call).
#[tokio::test]
async fn every_domain_s_counters_come_from_one_bulk_call() {
    let host = Host::new(HostKey::local(), "test:///default", DomainTypeSetting::Auto);
    let stopped = spec(&format!(
        "stats-{}",
        &Uuid::new_v4().simple().to_string()[..8]
    ));
    let id = stopped.uuid;
    host.define(stopped).await.unwrap();
    let all = host.domain_counters().await.unwrap();
    let ours = all
        .iter()
        .find(|c| c.uuid == id)
        .expect("the new domain is read");
    assert!(!ours.running, "defined, not started");
    assert_eq!(ours.cpu_ns_total, None, "a stopped domain has no CPU time");
    host.act(id, VmAction::Start).await.unwrap();
    let all = host.domain_counters().await.unwrap();
    assert!(all.iter().find(|c| c.uuid == id).unwrap().running);
    host.destroy_and_undefine(id).await.unwrap();
    let all = host.domain_counters().await.unwrap();
    assert!(
        all.iter().all(|c| c.uuid != id),
        "an undefined domain is gone"
    );
}
