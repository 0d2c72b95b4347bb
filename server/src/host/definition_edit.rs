//! Changes to an existing domain definition (its XML), for the settings a user changes after
//! create: the boot order and the media in the CD-ROM drive. Pure: no libvirt, no I/O. The
//! definition is streamed through unchanged except for the elements edited, so whatever else a
//! domain has (Limen's or a foreign one's) is kept.

use std::path::Path;

use app::types::BootOrder;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, Writer};

use super::domain_xml::boot_devices;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    #[error("the definition is not XML libvirt would have written: {0}")]
    Malformed(String),
    #[error("the VM has no CD-ROM drive")]
    NoCdromDrive,
}

fn malformed(error: impl std::fmt::Display) -> EditError {
    EditError::Malformed(error.to_string())
}

/// The definition with `order` as its only boot order: every `<boot>` element goes (the
/// `<os>` list and per-device `<boot order>`, which libvirt refuses together) and the order's
/// devices are written at the end of `<os>`.
pub fn set_boot_order(xml: &str, order: BootOrder) -> Result<String, EditError> {
    let mut reader = Reader::from_str(xml);
    let mut writer = Writer::new(Vec::new());
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut skipping = 0usize;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match &event {
            Event::Eof => break,
            Event::Start(start) => {
                if skipping > 0 || start.name().as_ref() == b"boot" {
                    skipping += 1;
                    continue;
                }
                path.push(start.name().as_ref().to_vec());
            }
            Event::Empty(start) if skipping > 0 || start.name().as_ref() == b"boot" => continue,
            Event::End(end) => {
                if skipping > 0 {
                    skipping -= 1;
                    continue;
                }
                if end.name().as_ref() == b"os" && path.len() == 2 {
                    for dev in boot_devices(order) {
                        let boot = BytesStart::new("boot").with_attributes([("dev", *dev)]);
                        writer.write_event(Event::Empty(boot)).map_err(malformed)?;
                    }
                }
                path.pop();
            }
            _ if skipping > 0 => continue,
            _ => {}
        }
        writer.write_event(event).map_err(malformed)?;
    }
    into_string(writer)
}

/// The definition with `file` in its first CD-ROM drive (`None`: empty), and that drive's
/// `<disk>` element alone, as `virDomainUpdateDeviceFlags` takes it for a running VM.
pub fn set_cdrom(xml: &str, file: Option<&Path>) -> Result<(String, String), EditError> {
    let mut reader = Reader::from_str(xml);
    let mut writer = Writer::new(Vec::new());
    // The drive being edited: its element's depth, and its own copy.
    let mut drive: Option<(usize, Writer<Vec<u8>>)> = None;
    let mut drive_xml = None;
    let mut depth = 0usize;
    let mut skipping_source = 0usize;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        if matches!(event, Event::Eof) {
            break;
        }
        let mut out: Vec<Event> = vec![event.clone()];
        match &event {
            Event::Start(start) => {
                depth += 1;
                if skipping_source > 0 {
                    skipping_source += 1;
                    out.clear();
                } else if drive.is_none() && drive_xml.is_none() && is_cdrom(start)? {
                    let start = as_file_disk(start)?;
                    out = vec![Event::Start(start)];
                    if let Some(file) = file {
                        let source = BytesStart::new("source")
                            .with_attributes([("file", file.to_string_lossy().as_ref())]);
                        out.push(Event::Empty(source));
                    }
                    drive = Some((depth, Writer::new(Vec::new())));
                } else if drive.is_some() && start.name().as_ref() == b"source" {
                    skipping_source = 1;
                    out.clear();
                }
            }
            Event::Empty(start)
                if skipping_source > 0
                    || (drive.is_some() && start.name().as_ref() == b"source") =>
            {
                out.clear();
            }
            Event::End(_) => {
                if skipping_source > 0 {
                    skipping_source -= 1;
                    out.clear();
                }
                depth -= 1;
            }
            _ if skipping_source > 0 => out.clear(),
            _ => {}
        }
        for event in out {
            if let Some((_, copy)) = drive.as_mut() {
                copy.write_event(event.clone()).map_err(malformed)?;
            }
            writer.write_event(event).map_err(malformed)?;
        }
        if matches!(event, Event::End(_)) && drive.as_ref().is_some_and(|(at, _)| *at == depth + 1)
        {
            let (_, copy) = drive.take().expect("checked above");
            drive_xml = Some(into_string(copy)?);
        }
    }
    let drive_xml = drive_xml.ok_or(EditError::NoCdromDrive)?;
    Ok((into_string(writer)?, drive_xml))
}

fn is_cdrom(start: &BytesStart) -> Result<bool, EditError> {
    if start.name().as_ref() != b"disk" {
        return Ok(false);
    }
    let device = start.try_get_attribute("device").map_err(malformed)?;
    Ok(device.is_some_and(|device| device.value.as_ref() == b"cdrom"))
}

/// The drive's `<disk>` start tag, as a file-backed drive (an ISO is a file).
fn as_file_disk(start: &BytesStart) -> Result<BytesStart<'static>, EditError> {
    let mut disk = BytesStart::new("disk");
    for attribute in start.attributes() {
        let attribute = attribute.map_err(malformed)?;
        if attribute.key.as_ref() != b"type" {
            disk.push_attribute(attribute);
        }
    }
    disk.push_attribute(("type", "file"));
    Ok(disk.into_owned())
}

fn into_string(writer: Writer<Vec<u8>>) -> Result<String, EditError> {
    String::from_utf8(writer.into_inner()).map_err(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::definition::parse;
    use crate::host::domain_xml::{DomainSpec, DomainType};

    fn limen_domain() -> String {
        DomainSpec {
            uuid: uuid::Uuid::new_v4(),
            name: "web-1".into(),
            domain_type: DomainType::Qemu,
            vcpus: 1,
            memory_mib: 256,
            disk_path: "/data/disks/x.qcow2".into(),
            cdrom_path: None,
            boot_order: BootOrder::CdromHd,
        }
        .to_xml()
    }

    #[test]
    fn sets_every_boot_order_and_keeps_the_rest() {
        let xml = limen_domain();
        for order in BootOrder::ALL {
            let edited = set_boot_order(&xml, order).unwrap();
            let (before, after) = (parse(&xml).unwrap(), parse(&edited).unwrap());
            assert_eq!(after.boot_order, order);
            assert_eq!((after.disk, after.vcpus), (before.disk, before.vcpus));
        }
    }

    #[test]
    fn per_device_boot_entries_give_way_to_the_os_list() {
        let foreign = r#"<domain type='kvm'><name>f</name><uuid>6f8b2c1e-2f4a-4b8e-9a1d-0c5e7f3a2b10</uuid>
<memory>1024</memory><vcpu>1</vcpu><os><type>hvm</type><loader readonly='yes'>/x</loader></os>
<devices><disk type='file' device='disk'><source file='/a'/><target dev='vda'/><boot order='1'/></disk>
<disk type='block' device='cdrom'><source dev='/dev/sr0'/><target dev='sda'/><boot order='2'></boot></disk></devices></domain>"#;
        let edited = set_boot_order(foreign, BootOrder::HdCdrom).unwrap();
        assert_eq!(edited.matches("<boot").count(), 2, "{edited}");
        assert!(
            edited.contains("<loader readonly='yes'>/x</loader>"),
            "{edited}"
        );
        assert_eq!(parse(&edited).unwrap().boot_order, BootOrder::HdCdrom);
    }

    #[test]
    fn puts_media_in_the_drive_and_takes_it_out() {
        let xml = limen_domain();
        let iso = Path::new("/data/isos/debian <12>.iso");
        let (inserted, drive) = set_cdrom(&xml, Some(iso)).unwrap();
        assert_eq!(parse(&inserted).unwrap().cdrom.as_deref(), Some(iso));
        assert!(
            drive.starts_with("<disk") && drive.ends_with("</disk>"),
            "{drive}"
        );
        assert!(
            drive.contains("debian &lt;12&gt;.iso") && drive.contains("<target dev=\"sda\""),
            "{drive}"
        );
        // Changing it replaces the one source; ejecting removes it.
        let (changed, _) = set_cdrom(&inserted, Some(Path::new("/data/isos/b.iso"))).unwrap();
        assert_eq!(
            changed.matches("<source").count(),
            1 + 1,
            "disk + cdrom: {changed}"
        );
        let (ejected, drive) = set_cdrom(&changed, None).unwrap();
        assert_eq!(parse(&ejected).unwrap().cdrom, None);
        assert!(!drive.contains("source"), "{drive}");
        assert_eq!(parse(&ejected).unwrap().disk, parse(&xml).unwrap().disk);
    }

    #[test]
    fn a_domain_without_a_drive_says_so() {
        let xml = r#"<domain><name>x</name><devices><disk device='disk'><source file='/a'/></disk></devices></domain>"#;
        assert_eq!(set_cdrom(xml, None), Err(EditError::NoCdromDrive));
        assert!(matches!(
            set_boot_order("<domain><os></domain>", BootOrder::Hd),
            Err(EditError::Malformed(_))
        ));
    }
}
