//! The libvirt layer against libvirt's in-process test:///default driver.

use app::types::{BootOrder, VmAction, VmStatus};
use server::config::DomainTypeSetting;
use server::host::domain_xml::{DomainSpec, DomainType};
use server::host::{Host, HostError};
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
    let host = Host::new("test:///default", DomainTypeSetting::Auto);
    assert_eq!(host.domain_type().await.unwrap(), DomainType::Test);
    let limits = host.node_limits().await.unwrap();
    assert!(limits.cpus > 0 && limits.memory_mib > 0);

    let name = format!("host-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let spec = spec(&name);
    let id = spec.uuid;
    host.define(spec).await.unwrap();
    assert!(host.domain_name_exists(name.clone()).await.unwrap());
    let domain = host.domain(id).await.unwrap().expect("defined");
    assert_eq!(
        (domain.name.as_str(), domain.status),
        (name.as_str(), VmStatus::Stopped)
    );
    assert!(host.domains().await.unwrap().contains_key(&id));

    for (action, expected) in [
        (VmAction::Start, VmStatus::Running),
        (VmAction::Pause, VmStatus::Paused),
        (VmAction::Resume, VmStatus::Running),
        (VmAction::Stop, VmStatus::Stopped),
    ] {
        assert_eq!(host.act(id, action).await.unwrap(), expected, "{action:?}");
    }
    // libvirt itself refuses nonsense; we classify it as a state problem, not a crash.
    assert!(matches!(
        host.act(id, VmAction::Stop).await,
        Err(HostError::InvalidState(_))
    ));

    host.act(id, VmAction::Start).await.unwrap();
    host.destroy_and_undefine(id).await.unwrap();
    assert!(host.domain(id).await.unwrap().is_none());
    // Already gone is success.
    host.destroy_and_undefine(id).await.unwrap();
    assert!(matches!(
        host.act(id, VmAction::Start).await,
        Err(HostError::NoDomain)
    ));
}

#[tokio::test]
async fn an_unreachable_hypervisor_is_reported_as_such() {
    let host = Host::new("qemu+tcp://127.0.0.1:1/system", DomainTypeSetting::Auto);
    assert!(matches!(
        host.ping().await,
        Err(HostError::Unavailable { .. })
    ));
}
