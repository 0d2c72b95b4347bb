//! Domain XML from typed values. Pure: no libvirt, no I/O. Every user-supplied value goes through
//! quick-xml's escaping; nothing here formats user input into markup.

use std::path::PathBuf;

use app::types::BootOrder;
use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use uuid::Uuid;

/// The `type` attribute of `<domain>`: what runs the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DomainType {
    /// Hardware virtualisation.
    Kvm,
    /// QEMU's software emulation (TCG).
    Qemu,
    /// libvirt's in-process test driver, which knows only this type.
    Test,
}

impl DomainType {
    pub fn as_str(self) -> &'static str {
        match self {
            DomainType::Kvm => "kvm",
            DomainType::Qemu => "qemu",
            DomainType::Test => "test",
        }
    }
}

/// Everything Limen decides about a new domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSpec {
    pub uuid: Uuid,
    pub name: String,
    pub domain_type: DomainType,
    pub vcpus: u32,
    pub memory_mib: u64,
    /// The qcow2 system disk.
    pub disk_path: PathBuf,
    /// The ISO in the CD-ROM drive, if any; the drive itself is always there.
    pub cdrom_path: Option<PathBuf>,
    pub boot_order: BootOrder,
}

/// `<boot dev>` entries for a boot order, in order.
pub(super) fn boot_devices(order: BootOrder) -> &'static [&'static str] {
    match order {
        BootOrder::CdromHd => &["cdrom", "hd"],
        BootOrder::Hd => &["hd"],
        BootOrder::Cdrom => &["cdrom"],
        BootOrder::HdCdrom => &["hd", "cdrom"],
    }
}

impl DomainSpec {
    pub fn to_xml(&self) -> String {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        self.write(&mut w)
            .expect("writing XML to a Vec cannot fail");
        String::from_utf8(w.into_inner()).expect("quick-xml writes UTF-8")
    }

    fn write(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let text = |s: &str| BytesText::new(s).into_owned();
        w.write_event(Event::Decl(BytesDecl::new("1.0", None, None)))?;
        w.create_element("domain")
            .with_attribute(("type", self.domain_type.as_str()))
            .write_inner_content(|w| {
                w.create_element("name")
                    .write_text_content(text(&self.name))?;
                w.create_element("uuid")
                    .write_text_content(text(&self.uuid.to_string()))?;
                w.create_element("memory")
                    .with_attribute(("unit", "MiB"))
                    .write_text_content(text(&self.memory_mib.to_string()))?;
                w.create_element("vcpu")
                    .write_text_content(text(&self.vcpus.to_string()))?;
                w.create_element("os").write_inner_content(|w| {
                    w.create_element("type")
                        .with_attribute(("arch", "x86_64"))
                        .write_text_content(text("hvm"))?;
                    for dev in boot_devices(self.boot_order) {
                        w.create_element("boot")
                            .with_attribute(("dev", *dev))
                            .write_empty()?;
                    }
                    Ok(())
                })?;
                w.create_element("features").write_inner_content(|w| {
                    w.create_element("acpi").write_empty()?;
                    w.create_element("apic").write_empty()?;
                    Ok(())
                })?;
                w.create_element("on_poweroff")
                    .write_text_content(text("destroy"))?;
                w.create_element("on_reboot")
                    .write_text_content(text("restart"))?;
                w.create_element("on_crash")
                    .write_text_content(text("destroy"))?;
                w.create_element("devices")
                    .write_inner_content(|w| self.write_devices(w))?;
                Ok(())
            })?;
        Ok(())
    }

    fn write_devices(&self, w: &mut Writer<Vec<u8>>) -> std::io::Result<()> {
        let disk_path = self.disk_path.to_string_lossy();
        w.create_element("disk")
            .with_attributes([("type", "file"), ("device", "disk")])
            .write_inner_content(|w| {
                w.create_element("driver")
                    .with_attributes([("name", "qemu"), ("type", "qcow2")])
                    .write_empty()?;
                w.create_element("source")
                    .with_attribute(("file", disk_path.as_ref()))
                    .write_empty()?;
                w.create_element("target")
                    .with_attributes([("dev", "vda"), ("bus", "virtio")])
                    .write_empty()?;
                Ok(())
            })?;
        // The CD-ROM drive is always present so media can be changed later without redefining.
        let cdrom_path = self.cdrom_path.as_ref().map(|p| p.to_string_lossy());
        w.create_element("disk")
            .with_attributes([("type", "file"), ("device", "cdrom")])
            .write_inner_content(|w| {
                w.create_element("driver")
                    .with_attributes([("name", "qemu"), ("type", "raw")])
                    .write_empty()?;
                if let Some(path) = &cdrom_path {
                    w.create_element("source")
                        .with_attribute(("file", path.as_ref()))
                        .write_empty()?;
                }
                w.create_element("target")
                    .with_attributes([("dev", "sda"), ("bus", "sata")])
                    .write_empty()?;
                w.create_element("readonly").write_empty()?;
                Ok(())
            })?;
        w.create_element("interface")
            .with_attribute(("type", "user"))
            .write_inner_content(|w| {
                w.create_element("model")
                    .with_attribute(("type", "virtio"))
                    .write_empty()?;
                Ok(())
            })?;
        w.create_element("graphics")
            .with_attributes([("type", "vnc"), ("port", "-1"), ("autoport", "yes")])
            .write_inner_content(|w| {
                w.create_element("listen")
                    .with_attributes([("type", "address"), ("address", "127.0.0.1")])
                    .write_empty()?;
                Ok(())
            })?;
        w.create_element("video").write_inner_content(|w| {
            w.create_element("model")
                .with_attribute(("type", "vga"))
                .write_empty()?;
            Ok(())
        })?;
        w.create_element("input")
            .with_attributes([("type", "tablet"), ("bus", "usb")])
            .write_empty()?;
        // The guest's first serial port, reached through libvirt's console stream (the serial
        // console in the browser).
        w.create_element("serial")
            .with_attribute(("type", "pty"))
            .write_inner_content(|w| {
                w.create_element("target")
                    .with_attribute(("port", "0"))
                    .write_empty()?;
                Ok(())
            })?;
        w.create_element("console")
            .with_attribute(("type", "pty"))
            .write_inner_content(|w| {
                w.create_element("target")
                    .with_attributes([("type", "serial"), ("port", "0")])
                    .write_empty()?;
                Ok(())
            })?;
        // The balloon reports the guest's memory use every few seconds (the graphs' "used"),
        // where the guest has the virtio balloon driver.
        w.create_element("memballoon")
            .with_attribute(("model", "virtio"))
            .write_inner_content(|w| {
                w.create_element("stats")
                    .with_attribute(("period", "5"))
                    .write_empty()?;
                Ok(())
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DomainSpec {
        DomainSpec {
            uuid: Uuid::parse_str("6f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f").unwrap(),
            name: "web-1".into(),
            domain_type: DomainType::Qemu,
            vcpus: 2,
            memory_mib: 1024,
            disk_path: "/var/lib/limen/disks/6f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f.qcow2".into(),
            cdrom_path: None,
            boot_order: BootOrder::CdromHd,
        }
    }

    #[test]
    fn golden_output() {
        let expected = r#"<?xml version="1.0"?>
<domain type="qemu">
  <name>web-1</name>
  <uuid>6f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f</uuid>
  <memory unit="MiB">1024</memory>
  <vcpu>2</vcpu>
  <os>
    <type arch="x86_64">hvm</type>
    <boot dev="cdrom"/>
    <boot dev="hd"/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2"/>
      <source file="/var/lib/limen/disks/6f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f.qcow2"/>
      <target dev="vda" bus="virtio"/>
    </disk>
    <disk type="file" device="cdrom">
      <driver name="qemu" type="raw"/>
      <target dev="sda" bus="sata"/>
      <readonly/>
    </disk>
    <interface type="user">
      <model type="virtio"/>
    </interface>
    <graphics type="vnc" port="-1" autoport="yes">
      <listen type="address" address="127.0.0.1"/>
    </graphics>
    <video>
      <model type="vga"/>
    </video>
    <input type="tablet" bus="usb"/>
    <serial type="pty">
      <target port="0"/>
    </serial>
    <console type="pty">
      <target type="serial" port="0"/>
    </console>
    <memballoon model="virtio">
      <stats period="5"/>
    </memballoon>
  </devices>
</domain>"#;
        assert_eq!(spec().to_xml(), expected);
    }

    #[test]
    fn boot_orders_and_media() {
        let mut s = spec();
        s.boot_order = BootOrder::Hd;
        s.cdrom_path = Some("/var/lib/limen/isos/debian.iso".into());
        let xml = s.to_xml();
        assert!(xml.contains("<boot dev=\"hd\"/>\n  </os>"), "{xml}");
        assert!(!xml.contains("<boot dev=\"cdrom\"/>"));
        assert!(xml.contains("<source file=\"/var/lib/limen/isos/debian.iso\"/>"));
        s.boot_order = BootOrder::HdCdrom;
        assert!(s
            .to_xml()
            .contains("<boot dev=\"hd\"/>\n    <boot dev=\"cdrom\"/>"));
    }

    #[test]
    fn hostile_text_is_escaped_not_interpreted() {
        // Validation refuses such names before they get here; the builder must still be safe.
        let mut s = spec();
        s.name = "</name><devices><disk type='block'>&x;\"".into();
        s.disk_path = "/tmp/a\"/><evil x=\"".into();
        let xml = s.to_xml();
        assert!(xml.contains("<name>&lt;/name&gt;&lt;devices&gt;&lt;disk type=&apos;block&apos;&gt;&amp;x;&quot;</name>"), "{xml}");
        assert!(
            xml.contains("file=\"/tmp/a&quot;/&gt;&lt;evil x=&quot;\""),
            "{xml}"
        );
        assert_eq!(xml.matches("<disk ").count(), 2);
        assert!(!xml.contains("<evil"));
    }
}
