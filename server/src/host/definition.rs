//! Reading an existing domain's XML (for adopting a domain Limen did not create). Pure: no
//! libvirt, no I/O. Only what a VM record needs is read; everything else is ignored.

use std::path::PathBuf;

use app::types::BootOrder;
use serde::Deserialize;
use uuid::Uuid;

/// What a VM record needs from a domain definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainDefinition {
    pub uuid: Uuid,
    pub name: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    /// The first file-backed disk (`device='disk'`), if any.
    pub disk: Option<PathBuf>,
    /// The file in the first CD-ROM drive, if any.
    pub cdrom: Option<PathBuf>,
    pub boot_order: BootOrder,
    /// The first VNC server, if the domain has one (a running domain's live definition says
    /// which port autoport chose).
    pub vnc: Option<VncListen>,
}

/// A VNC server from a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VncListen {
    /// Its index among the domain's graphics devices (what `virDomainOpenGraphicsFD` takes).
    pub index: u32,
    /// `None`: libvirt's default (QEMU's `vnc_listen`, 127.0.0.1 out of the box).
    pub address: Option<String>,
    /// `None` until a running domain's autoport chose one.
    pub port: Option<u16>,
}

#[derive(Deserialize)]
struct DomainXml {
    name: String,
    uuid: Uuid,
    memory: Memory,
    vcpu: Vcpu,
    #[serde(default)]
    os: Os,
    #[serde(default)]
    devices: Devices,
}

#[derive(Deserialize)]
struct Memory {
    #[serde(rename = "@unit")]
    unit: Option<String>,
    #[serde(rename = "$text")]
    value: u64,
}

#[derive(Deserialize)]
struct Vcpu {
    #[serde(rename = "$text")]
    value: u32,
}

#[derive(Default, Deserialize)]
struct Os {
    #[serde(default)]
    boot: Vec<Boot>,
}

#[derive(Deserialize)]
struct Boot {
    #[serde(rename = "@dev")]
    dev: String,
}

#[derive(Default, Deserialize)]
struct Devices {
    #[serde(default)]
    disk: Vec<Disk>,
    #[serde(default)]
    graphics: Vec<Graphics>,
}

#[derive(Deserialize)]
struct Graphics {
    #[serde(rename = "@type")]
    kind: String,
    #[serde(rename = "@port", default)]
    port: Option<i32>,
    #[serde(rename = "@listen", default)]
    listen: Option<String>,
}

#[derive(Deserialize)]
struct Disk {
    #[serde(rename = "@device", default)]
    device: Option<String>,
    source: Option<Source>,
}

#[derive(Deserialize)]
struct Source {
    #[serde(rename = "@file")]
    file: Option<PathBuf>,
}

/// libvirt's memory units, in bytes (its default unit is KiB).
fn unit_bytes(unit: Option<&str>) -> Option<u64> {
    Some(match unit.unwrap_or("KiB") {
        "b" | "bytes" => 1,
        "KB" => 1_000,
        "k" | "KiB" => 1 << 10,
        "MB" => 1_000_000,
        "M" | "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "G" | "GiB" => 1 << 30,
        "TB" => 1_000_000_000_000,
        "T" | "TiB" => 1 << 40,
        _ => return None,
    })
}

/// `<boot dev>` entries as a boot order; anything Limen has no name for counts as disk only.
fn boot_order(devices: &[String]) -> BootOrder {
    let devices: Vec<&str> = devices
        .iter()
        .map(String::as_str)
        .filter(|dev| matches!(*dev, "cdrom" | "hd"))
        .collect();
    match devices.as_slice() {
        ["cdrom", "hd", ..] => BootOrder::CdromHd,
        ["hd", "cdrom", ..] => BootOrder::HdCdrom,
        ["cdrom", ..] => BootOrder::Cdrom,
        _ => BootOrder::Hd,
    }
}

pub fn parse(xml: &str) -> Result<DomainDefinition, String> {
    let domain: DomainXml = quick_xml::de::from_str(xml).map_err(|e| e.to_string())?;
    let unit = domain.memory.unit.as_deref();
    let bytes = unit_bytes(unit)
        .ok_or_else(|| format!("unknown memory unit {unit:?}"))?
        .checked_mul(domain.memory.value)
        .ok_or("the memory size overflows")?;
    let file_of = |kind: &str| {
        domain
            .devices
            .disk
            .iter()
            .filter(|disk| disk.device.as_deref().unwrap_or("disk") == kind)
            .find_map(|disk| disk.source.as_ref()?.file.clone())
    };
    let boots: Vec<String> = domain.os.boot.into_iter().map(|boot| boot.dev).collect();
    let vnc = domain
        .devices
        .graphics
        .iter()
        .enumerate()
        .find(|(_, graphics)| graphics.kind == "vnc")
        .map(|(index, graphics)| VncListen {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            port: graphics
                .port
                .and_then(|port| u16::try_from(port).ok())
                .filter(|port| *port > 0),
            address: graphics
                .listen
                .clone()
                .filter(|address| !address.is_empty()),
        });
    Ok(DomainDefinition {
        uuid: domain.uuid,
        name: domain.name,
        vcpus: domain.vcpu.value,
        memory_mib: bytes.div_ceil(1 << 20),
        disk: file_of("disk"),
        cdrom: file_of("cdrom"),
        boot_order: boot_order(&boots),
        vnc,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::domain_xml::{DomainSpec, DomainType};

    #[test]
    fn reads_where_a_running_domains_vnc_server_listens() {
        let live = r#"<domain type='kvm' id='3'><name>a</name>
            <uuid>6f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f</uuid>
            <memory unit='KiB'>65536</memory><vcpu>1</vcpu>
            <devices>
              <graphics type='spice' port='5930'/>
              <graphics type='vnc' port='5901' autoport='yes' listen='127.0.0.1'>
                <listen type='address' address='127.0.0.1'/>
              </graphics>
            </devices></domain>"#;
        let vnc = parse(live).unwrap().vnc.unwrap();
        assert_eq!(
            (vnc.index, vnc.address.as_deref(), vnc.port),
            (1, Some("127.0.0.1"), Some(5901)),
            "the VNC display, not the SPICE one before it"
        );
        // A stopped domain with autoport has no port yet.
        let stopped = live.replace("port='5901'", "port='-1'");
        assert_eq!(parse(&stopped).unwrap().vnc.unwrap().port, None);
    }

    #[test]
    fn reads_back_what_limen_writes() {
        let spec = DomainSpec {
            uuid: Uuid::new_v4(),
            name: "web-1".into(),
            domain_type: DomainType::Qemu,
            vcpus: 2,
            memory_mib: 768,
            disk_path: "/var/lib/limen/disks/x.qcow2".into(),
            cdrom_path: Some("/var/lib/limen/isos/debian.iso".into()),
            boot_order: BootOrder::HdCdrom,
        };
        let parsed = parse(&spec.to_xml()).unwrap();
        assert_eq!(
            parsed,
            DomainDefinition {
                uuid: spec.uuid,
                name: "web-1".into(),
                vcpus: 2,
                memory_mib: 768,
                disk: Some(spec.disk_path.clone()),
                cdrom: spec.cdrom_path.clone(),
                boot_order: BootOrder::HdCdrom,
                // Defined, not running: autoport has not chosen a port yet.
                vnc: Some(VncListen {
                    index: 0,
                    address: None,
                    port: None,
                }),
            }
        );
    }

    #[test]
    fn reads_what_libvirt_reports_for_a_foreign_domain() {
        let xml = r#"<domain type='kvm' id='3'>
  <name>legacy</name>
  <uuid>6f8b2c1e-2f4a-4b8e-9a1d-0c5e7f3a2b10</uuid>
  <memory unit='KiB'>1048576</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/><boot dev='hd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='cdrom'><target dev='sda' bus='sata'/></disk>
    <interface type='user'><model type='virtio'/></interface>
    <disk type='file' device='disk'><source file='/srv/legacy.img'/><target dev='vda'/></disk>
  </devices>
</domain>"#;
        let parsed = parse(xml).unwrap();
        assert_eq!(parsed.name, "legacy");
        assert_eq!((parsed.vcpus, parsed.memory_mib), (4, 1024));
        assert_eq!(parsed.disk, Some("/srv/legacy.img".into()));
        assert_eq!(parsed.cdrom, None, "an empty drive has no media");
        assert_eq!(parsed.boot_order, BootOrder::Hd);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert!(parse("<domain><name>x</name></domain>").is_err());
        let huge = r#"<domain><name>x</name><uuid>6f8b2c1e-2f4a-4b8e-9a1d-0c5e7f3a2b10</uuid>
            <memory unit='TiB'>99999999999</memory><vcpu>1</vcpu></domain>"#;
        assert!(parse(huge).is_err());
    }
}
