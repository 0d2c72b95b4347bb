//! What a VM is made of and how it boots (SPEC §8, seed 003): install media, boot order,
//! installation status, its disk, its role (seed 004). The requests and answers of the VM
//! page's sections and of their REST routes, and the pure rules both sides apply.

use serde::{Deserialize, Serialize};

use crate::types::{BootOrder, InstallationStatus, Vm};

/// `POST /api/v1/vms/{uuid}/media/attach`: an ISO by its name in the library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttachMediaRequest {
    pub iso: String,
}

/// `POST /api/v1/vms/{uuid}/boot-order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BootOrderRequest {
    pub boot_order: BootOrder,
}

/// `GET/POST /api/v1/vms/{uuid}/boot-order`: the order in the VM's persistent definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct BootOrderReport {
    pub boot_order: BootOrder,
    /// The VM runs: the firmware reads the order at the next cold boot (a stop and a start,
    /// not a reboot from inside the guest).
    pub applies_at_next_boot: bool,
    /// Something the user should know (`cdrom_hd` with no media: the disk boots).
    #[cfg_attr(feature = "ssr", schema(required))]
    pub warning: Option<String>,
}

/// `POST /api/v1/vms/{uuid}/complete-installation`; no body means it succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CompleteInstallationRequest {
    /// The installation failed (it can be started again from the media).
    #[serde(default)]
    pub failed: bool,
}

/// `GET /api/v1/vms/{uuid}/installation-status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstallationReport {
    pub installation_status: InstallationStatus,
    pub boot_order: BootOrder,
    /// The ISO in the CD-ROM drive, by its library name; `null`: the drive is empty.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub current_media: Option<String>,
    /// What to do next, in one click each (the dashboard shows them as buttons).
    pub suggestions: Vec<Suggestion>,
}

/// A next step after an installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Suggestion {
    /// Set the boot order to `hd`.
    BootFromDisk,
    /// Eject the ISO.
    EjectMedia,
}

impl Suggestion {
    pub fn label(self) -> &'static str {
        match self {
            Suggestion::BootFromDisk => "Boot from disk",
            Suggestion::EjectMedia => "Eject the ISO",
        }
    }

    /// What an installed VM still boots from, or holds, that it no longer needs. Completing
    /// never changes these by itself (seed 003): the user decides.
    pub fn for_vm(vm: &Vm) -> Vec<Suggestion> {
        if vm.installation_status != InstallationStatus::Installed {
            return Vec::new();
        }
        let mut next = Vec::new();
        if vm.boot_order != BootOrder::Hd {
            next.push(Suggestion::BootFromDisk);
        }
        if vm.current_media.is_some() {
            next.push(Suggestion::EjectMedia);
        }
        next
    }
}

/// Whether a start boots the installer: the firmware tries the CD-ROM first and media is in.
pub fn boots_from_media(boot_order: BootOrder, current_media: Option<&str>) -> bool {
    current_media.is_some() && matches!(boot_order, BootOrder::CdromHd | BootOrder::Cdrom)
}

/// What a boot order with this media means for the next boot, if the user should hear of it:
/// `Err` — it cannot boot (`cdrom` alone with an empty drive); `Ok(Some)` — a warning.
pub fn boot_check(
    boot_order: BootOrder,
    current_media: Option<&str>,
) -> Result<Option<String>, String> {
    match (boot_order, current_media) {
        (BootOrder::Cdrom, None) => Err(
            "The boot order is \"CD-ROM only\" and the CD-ROM drive is empty: attach an ISO or boot from the disk."
                .into(),
        ),
        (BootOrder::CdromHd, None) => Ok(Some(
            "The CD-ROM drive is empty: the VM boots from its disk.".into(),
        )),
        _ => Ok(None),
    }
}

/// `GET /api/v1/vms/{uuid}/disk`: the system disk as `qemu-img` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DiskInfo {
    /// `qcow2`, `raw`, …
    pub format: String,
    /// Bytes the guest sees.
    pub virtual_size: u64,
    /// Bytes the image takes on the host.
    pub allocated_size: u64,
    /// The base image it is a copy-on-write overlay of, by its library name; `null`: none.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub backing_image: Option<String>,
    /// Where it lies, inside the data directory (`disks/<uuid>.qcow2`); never a host path.
    pub path: String,
}

/// `POST /api/v1/vms/{uuid}/disk/resize`: grow only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResizeDiskRequest {
    /// The new size, GiB: larger than the current one.
    pub size_gb: u64,
}

/// `PUT /api/v1/vms/{uuid}/role`: `null` clears it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    /// A free label grouping VMs (`web`, `db`, …), by the VM-name rule; `null` clears it.
    pub role: Option<String>,
}

/// `GET /api/v1/roles`: a role in use, with how many of the caller's VMs have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RoleCount {
    pub role: String,
    pub count: u64,
}

/// The roles in `vms`, each with its count, by name.
pub fn role_counts<'a>(vms: impl IntoIterator<Item = &'a Vm>) -> Vec<RoleCount> {
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    for role in vms.into_iter().filter_map(|vm| vm.role.as_deref()) {
        *counts.entry(role).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(role, count)| RoleCount {
            role: role.to_string(),
            count,
        })
        .collect()
}

/// `POST /api/v1/images`: turn a stopped VM's disk into a base image (admins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateImageRequest {
    /// The VM whose disk becomes the image; it must be stopped.
    pub vm: crate::types::VmId,
    /// The image's name in the library (a label; `.qcow2` is added).
    pub name: String,
}

/// A long operation (making a base image, taking, reverting or deleting a snapshot), as the
/// event stream and `GET /api/v1/operations` report it (base images to admins, snapshot work
/// to whoever may see its VM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct OperationProgress {
    /// What `POST /api/v1/operations/{id}/cancel` takes.
    pub id: uuid::Uuid,
    pub kind: OperationKind,
    /// The VM it works on.
    pub vm: crate::types::VmId,
    /// What it makes or works on (the image's file name, the snapshot's name).
    pub target: String,
    /// 0–100, whole (a float would bring float parsing into the dashboard's first load).
    #[cfg_attr(feature = "ssr", schema(maximum = 100))]
    pub percent: u8,
    pub state: ProgressState,
    /// Why it failed, in words; `null` unless it failed.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub error: Option<String>,
}

/// What a long operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OperationKind {
    /// A VM's disk copied, flattened, into the base-image library.
    ImageCreate,
    /// A snapshot being taken (a running VM's memory is written into its disk file).
    SnapshotCreate,
    /// A VM being reverted to a snapshot.
    SnapshotRevert,
    /// A snapshot being deleted (its data freed in the disk file).
    SnapshotDelete,
    /// A VM moving to another host (`target` names the host).
    VmMigrate,
}

/// Where a long operation stands: `running`, or how it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProgressState {
    Running,
    Done,
    Failed,
    Cancelled,
}

impl ProgressState {
    pub fn is_over(self) -> bool {
        self != ProgressState::Running
    }
}

/// The operations in `operation_progress` payloads (newest last), each as last reported, in
/// the order they first appeared; an operation that ended stays ended (a late copy of an
/// earlier report, such as a list loaded before it ended, cannot bring it back). Payloads that
/// do not parse are skipped.
pub fn latest_operations(payloads: &[String]) -> Vec<OperationProgress> {
    let mut latest: Vec<OperationProgress> = Vec::new();
    for progress in payloads
        .iter()
        .filter_map(|payload| serde_json::from_str::<OperationProgress>(payload).ok())
    {
        match latest.iter_mut().find(|known| known.id == progress.id) {
            Some(known) if known.state.is_over() => {}
            Some(known) => *known = progress,
            None => latest.push(progress),
        }
    }
    latest
}

/// The last reported percent of operation `id` among `operations` (0 if it is not there).
pub fn percent_of(operations: &[OperationProgress], id: uuid::Uuid) -> u8 {
    operations
        .iter()
        .find(|op| op.id == id)
        .map_or(0, |op| op.percent)
}

/// An operation's progress as a payload of the event stream's `operation_progress`.
pub fn progress_payload(progress: &OperationProgress) -> String {
    serde_json::to_string(progress).unwrap_or_default()
}

/// The library file name of an image called `name`.
pub fn image_file_name(name: &str) -> String {
    format!("{name}.qcow2")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{test_vm, VmStatus};

    #[test]
    fn an_installed_vm_is_offered_what_it_still_needs() {
        let mut vm = test_vm(1, "a", VmStatus::Stopped, 1);
        vm.current_media = Some("debian.iso".into());
        assert!(Suggestion::for_vm(&vm).is_empty(), "not installed yet");
        vm.installation_status = InstallationStatus::Installed;
        assert_eq!(
            Suggestion::for_vm(&vm),
            [Suggestion::BootFromDisk, Suggestion::EjectMedia]
        );
        vm.boot_order = BootOrder::Hd;
        vm.current_media = None;
        assert!(Suggestion::for_vm(&vm).is_empty());
    }

    #[test]
    fn an_empty_drive_first_in_the_order_is_refused_or_warned() {
        assert!(boot_check(BootOrder::Cdrom, None).is_err());
        assert!(boot_check(BootOrder::CdromHd, None).unwrap().is_some());
        assert_eq!(boot_check(BootOrder::Cdrom, Some("x.iso")), Ok(None));
        assert_eq!(boot_check(BootOrder::Hd, None), Ok(None));
        assert!(boots_from_media(BootOrder::CdromHd, Some("x.iso")));
        assert!(!boots_from_media(BootOrder::HdCdrom, Some("x.iso")));
        assert!(!boots_from_media(BootOrder::Cdrom, None));
    }

    #[test]
    fn an_operation_that_ended_stays_ended() {
        let id = uuid::Uuid::from_u128(7);
        let report = |percent, state| {
            progress_payload(&OperationProgress {
                id,
                kind: OperationKind::ImageCreate,
                vm: crate::types::VmId(uuid::Uuid::nil()),
                target: "golden.qcow2".into(),
                percent,
                state,
                error: None,
            })
        };
        let payloads = [
            report(10, ProgressState::Running),
            report(100, ProgressState::Done),
            report(10, ProgressState::Running),
            "not json".to_string(),
        ];
        let latest = latest_operations(&payloads);
        assert_eq!(latest.len(), 1);
        assert_eq!(
            (latest[0].percent, latest[0].state),
            (100, ProgressState::Done)
        );
        let running = latest_operations(&payloads[..1]);
        assert_eq!(running[0].state, ProgressState::Running);
    }

    #[test]
    fn roles_are_counted_by_name() {
        let mut vms: Vec<Vm> = (0..4)
            .map(|n| test_vm(n, &format!("v{n}"), VmStatus::Running, 1))
            .collect();
        vms[0].role = Some("web".into());
        vms[1].role = Some("db".into());
        vms[2].role = Some("web".into());
        let counts = role_counts(&vms);
        assert_eq!(
            counts,
            [
                RoleCount {
                    role: "db".into(),
                    count: 1
                },
                RoleCount {
                    role: "web".into(),
                    count: 2
                }
            ]
        );
    }
}
