//! The settings of a domain a user changes after create, as libvirt holds them: the boot order
//! (persistent definition: the firmware reads it at a cold boot) and the media in the CD-ROM
//! drive (live when the domain runs, and persistent), and the growing of its disk.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use app::types::BootOrder;
use uuid::Uuid;
use virt::connect::Connect;
use virt::domain::Domain;
use virt::sys;

use super::definition::parse;
use super::definition_edit::{set_boot_order, set_cdrom};
use super::{lookup, Host, HostError};

/// What the record keeps of a domain's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSettings {
    /// From the persistent definition: what the next cold boot uses.
    pub boot_order: BootOrder,
    /// The file in the CD-ROM drive now (the live definition's, if the domain runs).
    pub media: Option<PathBuf>,
}

fn xml(domain: &Domain, flags: u32) -> Result<String, HostError> {
    domain
        .xml_desc(flags)
        .map_err(|e| HostError::from_virt("read the domain definition", e))
}

/// The persistent definition, with secrets (a redefinition must not lose a VNC password).
fn persistent_xml(domain: &Domain) -> Result<String, HostError> {
    xml(
        domain,
        sys::VIR_DOMAIN_XML_INACTIVE | sys::VIR_DOMAIN_XML_SECURE,
    )
}

fn define(conn: &Connect, xml: &str, what: &'static str) -> Result<(), HostError> {
    conn.define_domain_xml(xml)
        .map(drop)
        .map_err(|e| HostError::from_virt(what, e))
}

fn is_active(domain: &Domain) -> Result<bool, HostError> {
    domain
        .is_active()
        .map_err(|e| HostError::from_virt("check the domain", e))
}

fn unreadable(error: String) -> HostError {
    HostError::Definition(error)
}

impl Host {
    /// The domain's boot order and media, as libvirt has them now.
    pub async fn settings(self: &Arc<Self>, id: Uuid) -> Result<DomainSettings, HostError> {
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            let persistent = parse(&persistent_xml(&domain)?).map_err(unreadable)?;
            let media = if is_active(&domain)? {
                parse(&xml(&domain, 0)?).map_err(unreadable)?.cdrom
            } else {
                persistent.cdrom
            };
            Ok(DomainSettings {
                boot_order: persistent.boot_order,
                media,
            })
        })
        .await
    }

    /// Writes `order` into the persistent definition (a running domain keeps booting as it
    /// did until its next cold boot).
    pub async fn set_boot_order(
        self: &Arc<Self>,
        id: Uuid,
        order: BootOrder,
    ) -> Result<(), HostError> {
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            let edited = set_boot_order(&persistent_xml(&domain)?, order)?;
            define(conn, &edited, "change the boot order")
        })
        .await
    }

    /// Puts `file` in the CD-ROM drive (`None`: ejects it): into the persistent definition, and
    /// into the running domain if it runs (the guest sees the new disc). If the running domain
    /// refuses, the persistent definition is put back: both keep saying the same.
    pub async fn change_media(
        self: &Arc<Self>,
        id: Uuid,
        file: Option<PathBuf>,
    ) -> Result<(), HostError> {
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            let file = file.as_deref();
            let persistent = persistent_xml(&domain)?;
            let (edited, _) = set_cdrom(&persistent, file)?;
            define(conn, &edited, "change the media")?;
            let live = || -> Result<(), HostError> {
                if !is_active(&domain)? {
                    return Ok(());
                }
                let (_, drive) = set_cdrom(&xml(&domain, 0)?, file)?;
                let flags = sys::VIR_DOMAIN_AFFECT_LIVE | sys::VIR_DOMAIN_DEVICE_MODIFY_FORCE;
                domain
                    .update_device_flags(&drive, flags)
                    .map_err(|e| HostError::from_virt("change the media", e))
            };
            // Whatever failed in the running domain, the persistent definition goes back.
            live().inspect_err(|_| {
                if let Err(undo) = define(conn, &persistent, "restore the media") {
                    tracing::warn!(%id, error = %undo, "the persistent media could not be put back");
                }
            })
        })
        .await
    }

    /// Grows the disk `path` of a running domain to `bytes`: QEMU resizes it and tells the
    /// guest, which sees the new size at once.
    pub async fn grow_disk_live(
        self: &Arc<Self>,
        id: Uuid,
        path: &Path,
        bytes: u64,
    ) -> Result<(), HostError> {
        let path = path.to_string_lossy().into_owned();
        self.call(move |conn| {
            lookup(conn, id)?
                .block_resize(&path, bytes, sys::VIR_DOMAIN_BLOCK_RESIZE_BYTES)
                .map_err(|e| HostError::from_virt("grow the disk", e))
        })
        .await
    }

    /// Whether the domain runs now (asked of libvirt, not the view: a resize must know).
    pub async fn is_running(self: &Arc<Self>, id: Uuid) -> Result<bool, HostError> {
        self.call(move |conn| is_active(&lookup(conn, id)?)).await
    }
}
