//! Domain definitions as whole XML documents, for `limen backup` (read) and `limen restore`
//! (define those the host lost).

use std::sync::Arc;

use uuid::Uuid;
use virt::sys;

use super::{lookup, Host, HostError};

impl Host {
    /// The persistent definition (what the next start uses), with the secrets a re-define needs
    /// (VNC passwords). `HostError::NoDomain` if there is none.
    pub async fn persistent_xml(self: &Arc<Self>, id: Uuid) -> Result<String, HostError> {
        self.call(move |conn| {
            lookup(conn, id)?
                .xml_desc(sys::VIR_DOMAIN_XML_INACTIVE | sys::VIR_DOMAIN_XML_SECURE)
                .map_err(|e| HostError::from_virt("read the domain definition", e))
        })
        .await
    }

    /// Whether a domain with this UUID is defined.
    pub async fn domain_exists(self: &Arc<Self>, id: Uuid) -> Result<bool, HostError> {
        match self.call(move |conn| lookup(conn, id).map(drop)).await {
            Ok(()) => Ok(true),
            Err(HostError::NoDomain) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Defines a domain from a whole XML document (a backup's).
    pub async fn define_xml(self: &Arc<Self>, xml: String) -> Result<(), HostError> {
        self.call(move |conn| {
            conn.define_domain_xml(&xml)
                .map(drop)
                .map_err(|e| HostError::from_virt("define the VM", e))
        })
        .await
    }
}

/// A snapshot's whole description, as `virsh snapshot-dumpxml --security-info` gives it.
#[derive(Debug, Clone)]
pub struct SnapshotDefinition {
    pub name: String,
    pub xml: String,
    pub current: bool,
}

impl Host {
    /// Every snapshot of the domain, parents before children (the order they can be redefined
    /// in). A restored host knows nothing of the snapshots inside the disks until then.
    pub async fn snapshot_definitions(
        self: &Arc<Self>,
        id: Uuid,
    ) -> Result<Vec<SnapshotDefinition>, HostError> {
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            let all = domain
                .list_all_snapshots(sys::VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL)
                .map_err(|e| HostError::from_virt("list the snapshots", e))?;
            let mut definitions = Vec::with_capacity(all.len());
            for snapshot in all {
                let name = snapshot
                    .name()
                    .map_err(|e| HostError::from_virt("read a snapshot", e))?;
                let xml = snapshot
                    .xml_desc(sys::VIR_DOMAIN_SNAPSHOT_XML_SECURE)
                    .map_err(|e| HostError::from_virt("describe a snapshot", e))?;
                let current = snapshot.is_current(0).unwrap_or(false);
                definitions.push(SnapshotDefinition { name, xml, current });
            }
            Ok(definitions)
        })
        .await
    }

    /// Gives the domain back the snapshots a backup described (their data is in its disks),
    /// in the order given: parents first.
    pub async fn redefine_snapshots(
        self: &Arc<Self>,
        id: Uuid,
        snapshots: Vec<SnapshotDefinition>,
    ) -> Result<(), HostError> {
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            for snapshot in snapshots {
                let mut flags = sys::VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE;
                if snapshot.current {
                    flags |= sys::VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT;
                }
                domain
                    .create_snapshot_xml(&snapshot.xml, flags)
                    .map_err(|e| HostError::from_virt("redefine a snapshot", e))?;
            }
            Ok(())
        })
        .await
    }
}
