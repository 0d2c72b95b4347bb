//! Which domain definitions from an archive may be defined again. An archive is a file an admin
//! was handed: a definition in it could name a host device or a host file (`<source
//! dev='/dev/sda'>`, `<kernel>/etc/shadow</kernel>`), which libvirt would hand to QEMU and
//! relabel for it. Only what Limen itself would define goes back in; anything else is reported,
//! for the admin to define by hand after reading it.

use std::path::{Component, Path};

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::DomainEntry;
use crate::host::definition;

/// Elements that hand the guest something of the host's.
const HOST_DEVICES: [&str; 5] = ["hostdev", "filesystem", "redirdev", "smartcard", "shmem"];
/// Elements whose text is a host path.
const PATH_ELEMENTS: [&str; 5] = ["kernel", "initrd", "dtb", "loader", "nvram"];
/// Attributes that name a host path (a disk's file or block device, a chardev's socket or log).
const PATH_ATTRIBUTES: [&[u8]; 4] = [b"file", b"dev", b"path", b"socket"];
/// Where libvirt itself keeps files a definition may name, besides the data dir (firmware
/// under /usr/share, NVRAM and sockets under libvirt's own directories).
const SYSTEM_PREFIXES: [&str; 4] = [
    "/usr/share/",
    "/var/lib/libvirt/",
    "/run/libvirt/",
    "/var/run/libvirt/",
];

/// Ok when `xml` is the definition `entry` names and holds nothing Limen would not define;
/// otherwise why not, in words.
pub fn check(xml: &str, entry: &DomainEntry, data_dir: &Path) -> Result<(), String> {
    let parsed =
        definition::parse(xml).map_err(|e| format!("its definition cannot be read: {e}"))?;
    if parsed.uuid != entry.uuid || parsed.name != entry.name {
        return Err(format!(
            "its definition names another domain ({} {})",
            parsed.name, parsed.uuid
        ));
    }
    scan(xml, data_dir)
}

/// Ok when a snapshot description from the archive belongs to `entry`'s domain and its saved
/// definition (what a revert would bring back) holds nothing Limen would not define.
pub fn check_snapshot(xml: &str, entry: &DomainEntry, data_dir: &Path) -> Result<(), String> {
    if !xml.contains(&format!("<uuid>{}</uuid>", entry.uuid)) {
        return Err("a snapshot's description belongs to another domain".into());
    }
    scan(xml, data_dir)
}

fn scan(xml: &str, data_dir: &Path) -> Result<(), String> {
    let mut reader = Reader::from_str(xml);
    let mut open: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(element)) => {
                let name = check_element(&element, data_dir)?;
                open = Some(name);
            }
            Ok(Event::Empty(element)) => {
                check_element(&element, data_dir)?;
                open = None;
            }
            Ok(Event::Text(text)) => {
                if let Some(name) = open.as_deref().filter(|n| PATH_ELEMENTS.contains(n)) {
                    let value = text.unescape().map_err(|e| e.to_string())?;
                    allowed_path(value.trim(), data_dir).map_err(|path| {
                        format!("its <{name}> names {path}, outside the data dir")
                    })?;
                }
            }
            Ok(Event::End(_)) => open = None,
            Ok(Event::Eof) => return Ok(()),
            Ok(_) => {}
            Err(error) => return Err(format!("its definition is not valid XML: {error}")),
        }
    }
}

fn check_element(element: &BytesStart<'_>, data_dir: &Path) -> Result<String, String> {
    let name = String::from_utf8_lossy(element.name().as_ref()).into_owned();
    if name.contains(':') {
        return Err(format!("it passes <{name}> straight to the hypervisor"));
    }
    if HOST_DEVICES.contains(&name.as_str()) {
        return Err(format!("it gives the guest a host device (<{name}>)"));
    }
    for attribute in element.attributes().flatten() {
        let key = attribute.key.as_ref();
        let value = attribute
            .unescape_value()
            .map_err(|e| e.to_string())?
            .into_owned();
        if name == "disk" && key == b"type" && value != "file" {
            return Err(format!(
                "it has a disk of type {value} (Limen's disks are files)"
            ));
        }
        if PATH_ATTRIBUTES.contains(&key) && value.starts_with('/') {
            allowed_path(&value, data_dir)
                .map_err(|path| format!("it names {path}, outside the data dir"))?;
        }
    }
    Ok(name)
}

/// A host path a restored definition may name: inside the data dir or libvirt's own places,
/// with no `..` to climb out.
fn allowed_path<'a>(path: &'a str, data_dir: &Path) -> Result<(), &'a str> {
    let candidate = Path::new(path);
    let climbs = candidate.components().any(|c| c == Component::ParentDir);
    let inside = candidate.starts_with(data_dir)
        || SYSTEM_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix));
    if path.is_empty() || (inside && !climbs) {
        Ok(())
    } else {
        Err(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    const UUID: &str = "6f9d3a52-3c1e-4f0a-9a55-0d2c1e9a7b10";

    fn entry() -> DomainEntry {
        DomainEntry {
            uuid: UUID.parse::<Uuid>().unwrap(),
            name: "vm1".into(),
            host: "local".into(),
            snapshots: Vec::new(),
            current_snapshot: None,
        }
    }

    fn domain(devices: &str) -> String {
        format!(
            "<domain type='qemu'><name>vm1</name><uuid>{UUID}</uuid><memory unit='KiB'>65536</memory>\
             <vcpu>1</vcpu><os><type>hvm</type></os><devices>{devices}</devices></domain>"
        )
    }

    #[test]
    fn limens_own_definitions_pass() {
        let xml = domain(
            "<disk type='file' device='disk'><source file='/srv/limen/disks/vm1.qcow2'/></disk>\
             <disk type='file' device='cdrom'><source file='/srv/limen/isos/a.iso'/></disk>\
             <graphics type='vnc' port='-1' autoport='yes'/>",
        );
        assert_eq!(check(&xml, &entry(), Path::new("/srv/limen")), Ok(()));
    }

    #[test]
    fn host_devices_and_files_are_refused() {
        let data_dir = Path::new("/srv/limen");
        for devices in [
            "<disk type='block' device='disk'><source dev='/dev/sda'/></disk>",
            "<disk type='file' device='disk'><source file='/etc/shadow'/></disk>",
            "<disk type='file' device='disk'><source file='/srv/limen/../../etc/shadow'/></disk>",
            "<hostdev mode='subsystem' type='pci'/>",
            "<serial type='file'><source path='/root/.ssh/authorized_keys'/></serial>",
        ] {
            assert!(
                check(&domain(devices), &entry(), data_dir).is_err(),
                "{devices}"
            );
        }
        let kernel = domain("").replace(
            "<os><type>hvm</type></os>",
            "<os><type>hvm</type><kernel>/etc/shadow</kernel></os>",
        );
        assert!(check(&kernel, &entry(), data_dir).is_err());
        let passthrough = domain("").replace(
            "</devices>",
            "</devices><qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'/>",
        );
        assert!(check(&passthrough, &entry(), data_dir).is_err());
    }

    #[test]
    fn a_definition_of_another_domain_is_refused() {
        let mut other = entry();
        other.name = "vm2".into();
        assert!(check(&domain(""), &other, Path::new("/srv/limen")).is_err());
    }
}
