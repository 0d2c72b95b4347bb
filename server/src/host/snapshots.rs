//! A domain's snapshots, through libvirt: internal qcow2 snapshots (disk and, for a running
//! VM, memory, in the disk file itself), which work with Limen's disks and their copy-on-write
//! overlays. libvirt holds the truth of which exist and how they form a tree.

use std::sync::Arc;

use quick_xml::escape::escape;
use serde::Deserialize;
use uuid::Uuid;
use virt::domain::Domain;
use virt::domain_snapshot::DomainSnapshot;
use virt::enumutil::Enum;
use virt::error::ErrorNumber;
use virt::sys;

use super::{lookup, Host, HostError};

/// One snapshot as libvirt describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSnapshot {
    pub name: String,
    pub description: Option<String>,
    /// Seconds since the epoch.
    pub created_at: i64,
    /// libvirt's word for the domain state it captured (`running`, `shutoff`, …).
    pub state: String,
    pub memory: bool,
    pub parent: Option<String>,
    pub current: bool,
}

/// Which snapshots a domain has and which is current: enough to tell that something changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotNames {
    /// Sorted.
    pub names: Vec<String>,
    pub current: Option<String>,
}

#[derive(Deserialize)]
struct SnapshotXml {
    name: String,
    description: Option<String>,
    state: Option<String>,
    parent: Option<Parent>,
    #[serde(rename = "creationTime")]
    creation_time: Option<i64>,
    memory: Option<Memory>,
}

#[derive(Deserialize)]
struct Parent {
    name: Option<String>,
}

#[derive(Deserialize)]
struct Memory {
    #[serde(rename = "@snapshot")]
    snapshot: Option<String>,
}

/// Reads a `<domainsnapshot>` document (pure).
pub fn parse_snapshot(xml: &str, current: bool) -> Result<HostSnapshot, HostError> {
    let parsed: SnapshotXml = quick_xml::de::from_str(xml)
        .map_err(|e| HostError::Definition(format!("a snapshot description: {e}")))?;
    let state = parsed.state.unwrap_or_default();
    let memory = match parsed.memory.and_then(|memory| memory.snapshot) {
        Some(kind) => kind == "internal" || kind == "external",
        // Older descriptions: a snapshot of a running or paused domain holds its memory.
        None => matches!(state.as_str(), "running" | "paused"),
    };
    Ok(HostSnapshot {
        name: parsed.name,
        description: parsed.description.filter(|d| !d.is_empty()),
        created_at: parsed.creation_time.unwrap_or(0),
        state,
        memory,
        parent: parsed
            .parent
            .and_then(|parent| parent.name)
            .filter(|n| !n.is_empty()),
        current,
    })
}

/// The `<domainsnapshot>` that asks for an internal snapshot named `name` (already validated:
/// it is escaped all the same), with or without the memory.
pub fn snapshot_xml(name: &str, description: Option<&str>, memory: bool) -> String {
    let description = description
        .map(|d| format!("<description>{}</description>", escape(d)))
        .unwrap_or_default();
    let memory = if memory {
        "<memory snapshot='internal'/>"
    } else {
        "<memory snapshot='no'/>"
    };
    format!(
        "<domainsnapshot><name>{}</name>{description}{memory}</domainsnapshot>",
        escape(name)
    )
}

fn no_snapshot(error: &virt::error::Error) -> bool {
    matches!(error.code(), Enum::Known(ErrorNumber::NoDomainSnapshot))
}

fn find(domain: &Domain, name: &str) -> Result<Option<DomainSnapshot>, HostError> {
    match Domain::lookup_snapshot_by_name(domain, name, 0) {
        Ok(snapshot) => Ok(Some(snapshot)),
        Err(error) if no_snapshot(&error) => Ok(None),
        Err(error) => Err(HostError::from_virt("look up the snapshot", error)),
    }
}

fn current_name(domain: &Domain) -> Result<Option<String>, HostError> {
    match domain.current_snapshot(0) {
        Ok(snapshot) => Ok(snapshot.name().ok()),
        Err(error) if no_snapshot(&error) => Ok(None),
        Err(error) => Err(HostError::from_virt("read the current snapshot", error)),
    }
}

impl Host {
    /// Every snapshot of the domain, described.
    pub async fn snapshots(self: &Arc<Self>, id: Uuid) -> Result<Vec<HostSnapshot>, HostError> {
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            let current = current_name(&domain)?;
            let all = domain
                .list_all_snapshots(0)
                .map_err(|e| HostError::from_virt("list the snapshots", e))?;
            let mut described = Vec::with_capacity(all.len());
            for snapshot in all {
                let xml = match snapshot.xml_desc(0) {
                    Ok(xml) => xml,
                    // Deleted between the listing and now.
                    Err(error) if no_snapshot(&error) => continue,
                    Err(error) => return Err(HostError::from_virt("describe a snapshot", error)),
                };
                let name = snapshot.name().unwrap_or_default();
                match parse_snapshot(&xml, current.as_deref() == Some(&*name)) {
                    Ok(found) => described.push(found),
                    // One description Limen cannot read does not hide the others.
                    Err(error) => tracing::warn!(%id, snapshot = %name, %error, "a snapshot's description could not be read"),
                }
            }
            Ok(described)
        })
        .await
    }

    /// The names of the domain's snapshots and the current one (no description read).
    pub async fn snapshot_names(self: &Arc<Self>, id: Uuid) -> Result<SnapshotNames, HostError> {
        self.call(move |conn| {
            let domain = lookup(conn, id)?;
            let mut names: Vec<String> = domain
                .list_all_snapshots(0)
                .map_err(|e| HostError::from_virt("list the snapshots", e))?
                .iter()
                .filter_map(|snapshot| snapshot.name().ok())
                .collect();
            names.sort_unstable();
            Ok(SnapshotNames {
                names,
                current: current_name(&domain)?,
            })
        })
        .await
    }

    pub async fn has_snapshot(self: &Arc<Self>, id: Uuid, name: String) -> Result<bool, HostError> {
        self.call(move |conn| Ok(find(&lookup(conn, id)?, &name)?.is_some()))
            .await
    }

    /// Takes an internal snapshot, atomically: libvirt makes it whole or not at all. A
    /// running VM is paused while its memory is written, and resumed.
    pub async fn take_snapshot(self: &Arc<Self>, id: Uuid, xml: String) -> Result<(), HostError> {
        self.call(move |conn| {
            lookup(conn, id)?
                .create_snapshot_xml(&xml, sys::VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC)
                .map(drop)
                .map_err(|e| HostError::from_virt("take the snapshot", e))
        })
        .await
    }

    /// Brings the domain back to the snapshot: its disk, and its memory and state if the
    /// snapshot holds them. libvirt's events then say what the VM is.
    pub async fn revert_snapshot(
        self: &Arc<Self>,
        id: Uuid,
        name: String,
    ) -> Result<(), HostError> {
        self.call(move |conn| {
            let snapshot = find(&lookup(conn, id)?, &name)?.ok_or(HostError::NoSnapshot)?;
            match snapshot.revert(0) {
                Ok(()) => Ok(()),
                // libvirt asks to be sure where a revert cannot keep the running QEMU (a
                // changed definition): the user confirmed what the revert discards.
                Err(error)
                    if matches!(error.code(), Enum::Known(ErrorNumber::SnapshotRevertRisky)) =>
                {
                    snapshot
                        .revert(sys::VIR_DOMAIN_SNAPSHOT_REVERT_FORCE)
                        .map_err(|e| HostError::from_virt("revert to the snapshot", e))
                }
                Err(error) => Err(HostError::from_virt("revert to the snapshot", error)),
            }
        })
        .await
    }

    /// Deletes the snapshot (its children move up to its parent). Returns whether there was
    /// one: deleting a snapshot that is gone is done already.
    pub async fn delete_snapshot(
        self: &Arc<Self>,
        id: Uuid,
        name: String,
    ) -> Result<bool, HostError> {
        self.call(move |conn| {
            let Some(snapshot) = find(&lookup(conn, id)?, &name)? else {
                return Ok(false);
            };
            match snapshot.delete(0) {
                Ok(()) => Ok(true),
                Err(error) if no_snapshot(&error) => Ok(false),
                Err(error) => Err(HostError::from_virt("delete the snapshot", error)),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_description_is_read() {
        let xml = "<domainsnapshot><name>pre-upgrade</name><description>before 12.4 &amp; more</description>\
            <state>running</state><parent><name>installed</name></parent>\
            <creationTime>1796037286</creationTime><memory snapshot='internal'/>\
            <disks><disk name='vda' snapshot='internal'/></disks>\
            <domain type='qemu'><name>web</name><devices><disk/></devices></domain></domainsnapshot>";
        let snapshot = parse_snapshot(xml, true).unwrap();
        assert_eq!(
            snapshot,
            HostSnapshot {
                name: "pre-upgrade".into(),
                description: Some("before 12.4 & more".into()),
                created_at: 1_796_037_286,
                state: "running".into(),
                memory: true,
                parent: Some("installed".into()),
                current: true,
            }
        );
        let root = "<domainsnapshot><name>a</name><state>shutoff</state><parent>\n</parent>\
            <creationTime>1</creationTime><memory snapshot='no'/></domainsnapshot>";
        let root = parse_snapshot(root, false).unwrap();
        assert_eq!((root.parent, root.memory), (None, false));
    }

    #[test]
    fn the_request_escapes_what_it_carries() {
        let xml = snapshot_xml("a", Some("</description><x>"), true);
        assert!(xml.contains("&lt;/description&gt;&lt;x&gt;"), "{xml}");
        assert!(xml.contains("<memory snapshot='internal'/>"));
        assert!(snapshot_xml("a", None, false).contains("<memory snapshot='no'/>"));
    }
}
