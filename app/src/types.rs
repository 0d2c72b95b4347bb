//! Wire types shared by the browser and the server (REST JSON and server functions alike).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A VM's identity: the libvirt domain UUID, which is also the database key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", schema(value_type = String, format = Uuid))]
#[serde(transparent)]
pub struct VmId(pub Uuid);

impl fmt::Display for VmId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for VmId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(VmId)
    }
}

/// What the hypervisor (or an operation in progress) says about a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VmStatus {
    Running,
    Stopped,
    Paused,
    ShuttingDown,
    Crashed,
    Creating,
    Deleting,
    Missing,
    Unknown,
}

impl VmStatus {
    pub const ALL: [VmStatus; 9] = [
        VmStatus::Running,
        VmStatus::Stopped,
        VmStatus::Paused,
        VmStatus::ShuttingDown,
        VmStatus::Crashed,
        VmStatus::Creating,
        VmStatus::Deleting,
        VmStatus::Missing,
        VmStatus::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VmStatus::Running => "running",
            VmStatus::Stopped => "stopped",
            VmStatus::Paused => "paused",
            VmStatus::ShuttingDown => "shutting_down",
            VmStatus::Crashed => "crashed",
            VmStatus::Creating => "creating",
            VmStatus::Deleting => "deleting",
            VmStatus::Missing => "missing",
            VmStatus::Unknown => "unknown",
        }
    }

    /// The word a person reads on the status badge.
    pub fn label(self) -> &'static str {
        match self {
            VmStatus::Running => "Running",
            VmStatus::Stopped => "Stopped",
            VmStatus::Paused => "Paused",
            VmStatus::ShuttingDown => "Shutting down",
            VmStatus::Crashed => "Crashed",
            VmStatus::Creating => "Creating",
            VmStatus::Deleting => "Deleting",
            VmStatus::Missing => "Missing",
            VmStatus::Unknown => "Unknown",
        }
    }

    /// Whether an operation owns this status: `creating` and `deleting` are set by the create
    /// and delete operations and changed only by them, whatever the hypervisor reports meanwhile.
    /// The one statement of that rule; records, lists and the monitor all ask here.
    pub fn is_held_by_operation(self) -> bool {
        matches!(self, VmStatus::Creating | VmStatus::Deleting)
    }

    /// Whether the domain is active on its host (has a QEMU process): running, paused or on
    /// its way down.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            VmStatus::Running | VmStatus::Paused | VmStatus::ShuttingDown
        )
    }
}

impl FromStr for VmStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VmStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown VM status {s:?}"))
    }
}

/// Which devices the firmware tries, in order (`cdrom_hd`: the CD-ROM, then the disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BootOrder {
    #[default]
    CdromHd,
    Hd,
    Cdrom,
    HdCdrom,
}

impl BootOrder {
    pub const ALL: [BootOrder; 4] = [
        BootOrder::CdromHd,
        BootOrder::Hd,
        BootOrder::Cdrom,
        BootOrder::HdCdrom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BootOrder::CdromHd => "cdrom_hd",
            BootOrder::Hd => "hd",
            BootOrder::Cdrom => "cdrom",
            BootOrder::HdCdrom => "hd_cdrom",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BootOrder::CdromHd => "CD-ROM, then disk",
            BootOrder::Hd => "Disk only",
            BootOrder::Cdrom => "CD-ROM only",
            BootOrder::HdCdrom => "Disk, then CD-ROM",
        }
    }
}

impl FromStr for BootOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BootOrder::ALL
            .into_iter()
            .find(|order| order.as_str() == s)
            .ok_or_else(|| format!("unknown boot order {s:?}"))
    }
}

/// Where an operating system installation on the VM stands (SPEC §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum InstallationStatus {
    #[default]
    NotInstalled,
    Installing,
    Installed,
    InstallationFailed,
}

impl InstallationStatus {
    pub const ALL: [InstallationStatus; 4] = [
        InstallationStatus::NotInstalled,
        InstallationStatus::Installing,
        InstallationStatus::Installed,
        InstallationStatus::InstallationFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InstallationStatus::NotInstalled => "NotInstalled",
            InstallationStatus::Installing => "Installing",
            InstallationStatus::Installed => "Installed",
            InstallationStatus::InstallationFailed => "InstallationFailed",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            InstallationStatus::NotInstalled => "Not installed",
            InstallationStatus::Installing => "Installing",
            InstallationStatus::Installed => "Installed",
            InstallationStatus::InstallationFailed => "Installation failed",
        }
    }
}

impl FromStr for InstallationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InstallationStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("unknown installation status {s:?}"))
    }
}

/// A virtual machine as every screen and endpoint sees it: the record merged with live state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Vm {
    pub uuid: VmId,
    pub name: String,
    /// The user the VM belongs to; `null`: nobody's (only admins see it).
    #[cfg_attr(feature = "ssr", schema(required))]
    pub owner: Option<String>,
    pub status: VmStatus,
    /// vCPUs.
    pub cpu: u32,
    /// MiB.
    pub memory: u64,
    /// GiB.
    pub disk_size: u64,
    /// The guest's operating system family (`linux` unless given at creation).
    pub os_type: String,
    pub boot_order: BootOrder,
    pub installation_status: InstallationStatus,
    /// The ISO in the CD-ROM drive, by its library name; `null`: the drive is empty.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub current_media: Option<String>,
    /// A free label grouping VMs (`web`, `db`, …); `null`: none.
    #[cfg_attr(feature = "ssr", schema(required))]
    pub role: Option<String>,
    /// The libvirt host the VM lives on (`local` while Limen manages one host).
    pub host: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The version of this VM: it grows with every change to it, in the order the changes were
    /// made, so of two copies the one with the larger generation is the newer (equal: the same).
    pub generation: u64,
}

/// `POST /api/v1/vms` and the create form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateVmRequest {
    /// The VM's name: 1–63 letters, digits, `.`, `_` and `-`, starting with a letter or digit.
    pub name: String,
    /// vCPUs.
    pub cpu: u32,
    /// MiB.
    pub memory: u64,
    /// GiB.
    pub disk_size: u64,
    /// The guest's operating system family; absent: `linux`.
    #[serde(default)]
    pub os_type: Option<String>,
    /// An ISO from the library, put in the CD-ROM drive.
    #[serde(default)]
    pub iso: Option<String>,
    /// A base image from the library: the disk becomes a copy-on-write overlay on it.
    #[serde(default)]
    pub image: Option<String>,
    /// Absent: `cdrom_hd`.
    #[serde(default)]
    pub boot_order: Option<BootOrder>,
    /// Start the VM once it is created (default: no).
    #[serde(default)]
    pub start: bool,
    /// The host to create it on, by key; absent: the enabled host with the most free memory
    /// that fits it (the created VM's `host` says which).
    #[serde(default)]
    pub host: Option<String>,
}

/// A file in the ISO or base-image library.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MediaFile {
    /// The file's name in the library (what requests name it by).
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// The VMs using it (an ISO in their drive, a disk built on the image), by name; only
    /// those the caller may see.
    #[serde(default)]
    #[cfg_attr(feature = "ssr", schema(required))]
    pub used_by: Vec<String>,
}

/// What a user can ask a VM to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VmAction {
    /// Power on.
    Start,
    /// ACPI power button: the guest shuts itself down.
    Shutdown,
    /// Hard power-off.
    Stop,
    Reboot,
    Reset,
    Pause,
    Resume,
}

impl VmAction {
    pub const ALL: [VmAction; 7] = [
        VmAction::Start,
        VmAction::Shutdown,
        VmAction::Stop,
        VmAction::Reboot,
        VmAction::Reset,
        VmAction::Pause,
        VmAction::Resume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VmAction::Start => "start",
            VmAction::Shutdown => "shutdown",
            VmAction::Stop => "stop",
            VmAction::Reboot => "reboot",
            VmAction::Reset => "reset",
            VmAction::Pause => "pause",
            VmAction::Resume => "resume",
        }
    }

    /// The action's name in the audit log.
    pub fn audit_name(self) -> &'static str {
        match self {
            VmAction::Start => "vm.start",
            VmAction::Shutdown => "vm.shutdown",
            VmAction::Stop => "vm.stop",
            VmAction::Reboot => "vm.reboot",
            VmAction::Reset => "vm.reset",
            VmAction::Pause => "vm.pause",
            VmAction::Resume => "vm.resume",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            VmAction::Start => "Start",
            VmAction::Shutdown => "Shut down",
            VmAction::Stop => "Stop",
            VmAction::Reboot => "Reboot",
            VmAction::Reset => "Reset",
            VmAction::Pause => "Pause",
            VmAction::Resume => "Resume",
        }
    }

    /// Whether the guest's operating system must carry this out (ACPI): libvirt only asks, and a
    /// guest without an OS, or one still booting, ignores it.
    pub fn needs_guest(self) -> bool {
        matches!(self, VmAction::Shutdown | VmAction::Reboot)
    }

    /// Whether this action makes sense for a VM in `status`. The server refuses the others with
    /// 409 INVALID_STATE and the dashboard disables their buttons, from this one function.
    pub fn allowed_in(self, status: VmStatus) -> bool {
        use VmStatus as S;
        match self {
            VmAction::Start => matches!(status, S::Stopped | S::Crashed),
            VmAction::Shutdown | VmAction::Reboot => matches!(status, S::Running),
            VmAction::Stop => matches!(
                status,
                S::Running | S::Paused | S::ShuttingDown | S::Crashed
            ),
            VmAction::Reset => matches!(status, S::Running | S::Paused),
            VmAction::Pause => matches!(status, S::Running),
            VmAction::Resume => matches!(status, S::Paused),
        }
    }
}

/// `POST /api/v1/vms/{uuid}/action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub action: VmAction,
}

/// A console ticket (`POST /api/v1/vms/{uuid}/console/ticket`): lets one WebSocket connect
/// to that VM's console or serial console as `?ticket=`, once, soon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConsoleTicket {
    /// Pass as the WebSocket URL's `?ticket=`; it works once.
    pub ticket: String,
    /// It no longer works after this moment.
    pub expires_at: DateTime<Utc>,
}

/// What a delete could not clean up (SPEC §4): empty when everything is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeleteReport {
    /// The deleted VM.
    pub uuid: VmId,
    /// One sentence per thing left behind, e.g. a disk that could not be removed.
    pub leftovers: Vec<String>,
}

/// A VM for unit tests: number `n`, named `name`, with `status` at `generation`; the rest fixed.
#[cfg(test)]
pub(crate) fn test_vm(n: u128, name: &str, status: VmStatus, generation: u64) -> Vm {
    use chrono::TimeZone;
    let at = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    Vm {
        uuid: VmId(Uuid::from_u128(n)),
        name: name.into(),
        owner: None,
        status,
        cpu: 1,
        memory: 512,
        disk_size: 4,
        os_type: "linux".into(),
        boot_order: BootOrder::default(),
        installation_status: InstallationStatus::default(),
        current_media: None,
        role: None,
        host: "local".into(),
        created_at: at,
        updated_at: at,
        generation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_wire_names() {
        for status in VmStatus::ALL {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(status.as_str().parse::<VmStatus>().unwrap(), status);
        }
        for order in BootOrder::ALL {
            let json = serde_json::to_string(&order).unwrap();
            assert_eq!(json, format!("\"{}\"", order.as_str()));
            assert_eq!(order.as_str().parse::<BootOrder>().unwrap(), order);
        }
        for install in InstallationStatus::ALL {
            let json = serde_json::to_string(&install).unwrap();
            assert_eq!(json, format!("\"{}\"", install.as_str()));
        }
        for action in VmAction::ALL {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
        }
    }

    #[test]
    fn actions_allowed_only_where_they_make_sense() {
        assert!(VmAction::Start.allowed_in(VmStatus::Stopped));
        assert!(!VmAction::Start.allowed_in(VmStatus::Running));
        assert!(VmAction::Stop.allowed_in(VmStatus::Running));
        assert!(!VmAction::Stop.allowed_in(VmStatus::Stopped));
        assert!(VmAction::Resume.allowed_in(VmStatus::Paused));
        assert!(!VmAction::Pause.allowed_in(VmStatus::Paused));
        // Nothing may be done to a VM that is being created, deleted, or has vanished.
        for action in VmAction::ALL {
            for status in [
                VmStatus::Creating,
                VmStatus::Deleting,
                VmStatus::Missing,
                VmStatus::Unknown,
            ] {
                assert!(!action.allowed_in(status), "{action:?} in {status:?}");
            }
        }
    }

    #[test]
    fn create_request_rejects_unknown_fields_and_bad_numbers() {
        let ok = r#"{"name":"a","cpu":1,"memory":512,"disk_size":4}"#;
        assert!(serde_json::from_str::<CreateVmRequest>(ok).is_ok());
        for bad in [
            r#"{"name":"a","cpu":1,"memory":512,"disk_size":4,"admin":true}"#,
            r#"{"name":"a","cpu":-1,"memory":512,"disk_size":4}"#,
            r#"{"name":"a","cpu":"2","memory":512,"disk_size":4}"#,
            r#"{"name":"a","cpu":1,"memory":99999999999999999999999,"disk_size":4}"#,
        ] {
            assert!(
                serde_json::from_str::<CreateVmRequest>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
