//! Database rows. Kept apart from the wire types in `app::types`; [`VmRow::into_vm`] is the one
//! rule that turns a record and the hypervisor's word into the `Vm` every screen shows.

use app::types::{BootOrder, InstallationStatus, Vm, VmId, VmStatus};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::vms;
use super::stored::{OperationState, Stored};
use crate::host::LiveState;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = vms, check_for_backend(diesel::pg::Pg))]
pub struct VmRow {
    pub uuid: Uuid,
    pub name: String,
    pub owner: Option<String>,
    pub vcpus: i32,
    pub memory_mib: i64,
    pub disk_size_gb: i64,
    pub disk_path: String,
    pub os_type: String,
    #[diesel(deserialize_as = Stored<BootOrder>)]
    pub boot_order: BootOrder,
    #[diesel(deserialize_as = Stored<InstallationStatus>)]
    pub installation_status: InstallationStatus,
    pub current_media: Option<String>,
    pub role: Option<String>,
    /// The last status observed, or the one an operation set (`creating`, `deleting`).
    #[diesel(deserialize_as = Stored<VmStatus>)]
    pub status: VmStatus,
    /// The generation of the observation `status` comes from (the guard against older ones).
    pub status_generation: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The key of the libvirt host the VM lives on.
    pub host: String,
    /// The record's version, from its host's clock: every write takes a larger one.
    pub generation: i64,
    /// The image-library name of the base image the disk is an overlay of.
    pub base_image: Option<String>,
    /// What the disk file takes on the host, in whole GiB, as last measured.
    pub disk_allocated_gb: i64,
}

impl VmRow {
    /// The VM as every screen and endpoint shows it: an operation in progress keeps its own
    /// status; otherwise the hypervisor's word wins, and a record whose domain is gone is
    /// `missing`. Its generation is the newer of the record's and the live state's (one clock,
    /// the host's: any change to either takes a larger one), so a copy with a larger
    /// generation is newer, and two with the same one are the same.
    pub fn into_vm(self, live: LiveState) -> Vm {
        let status = match (self.status.is_held_by_operation(), live) {
            (true, _) => self.status,
            (false, LiveState::Is { status, .. }) => status,
            (false, LiveState::NoDomain { .. }) => VmStatus::Missing,
            (false, LiveState::Unknown) => VmStatus::Unknown,
        };
        let generation = u64::try_from(self.generation)
            .unwrap_or(0)
            .max(live.generation());
        Vm {
            uuid: VmId(self.uuid),
            name: self.name,
            owner: self.owner,
            status,
            cpu: u32::try_from(self.vcpus).unwrap_or(0),
            memory: u64::try_from(self.memory_mib).unwrap_or(0),
            disk_size: u64::try_from(self.disk_size_gb).unwrap_or(0),
            os_type: self.os_type,
            boot_order: self.boot_order,
            installation_status: self.installation_status,
            current_media: self.current_media,
            role: self.role,
            host: self.host,
            created_at: self.created_at,
            updated_at: self.updated_at,
            generation,
        }
    }
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = vms)]
pub struct NewVmRow {
    pub uuid: Uuid,
    pub name: String,
    pub owner: Option<String>,
    pub vcpus: i32,
    pub memory_mib: i64,
    pub disk_size_gb: i64,
    pub disk_path: String,
    pub os_type: String,
    #[diesel(serialize_as = Stored<BootOrder>)]
    pub boot_order: BootOrder,
    #[diesel(serialize_as = Stored<InstallationStatus>)]
    pub installation_status: InstallationStatus,
    pub current_media: Option<String>,
    pub role: Option<String>,
    #[diesel(serialize_as = Stored<VmStatus>)]
    pub status: VmStatus,
    pub status_generation: i64,
    pub host: String,
    /// The record's first version (the host's clock now).
    pub generation: i64,
    pub base_image: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::operations, check_for_backend(diesel::pg::Pg))]
pub struct OperationRow {
    pub id: Uuid,
    pub kind: String,
    pub vm_uuid: Uuid,
    pub params: serde_json::Value,
    pub steps_started: Vec<String>,
    #[diesel(deserialize_as = Stored<OperationState>)]
    pub state: OperationState,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(status: VmStatus) -> VmRow {
        VmRow {
            uuid: Uuid::nil(),
            name: "a".into(),
            owner: None,
            vcpus: 1,
            memory_mib: 128,
            disk_size_gb: 1,
            disk_path: String::new(),
            os_type: "linux".into(),
            boot_order: BootOrder::Hd,
            installation_status: InstallationStatus::Installed,
            current_media: None,
            role: None,
            status,
            status_generation: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            host: "local".into(),
            generation: 7,
            base_image: None,
            disk_allocated_gb: 0,
        }
    }

    #[test]
    fn the_hypervisor_wins_unless_an_operation_holds_the_status() {
        let running = LiveState::Is {
            status: VmStatus::Running,
            generation: 5,
        };
        let gone = LiveState::NoDomain { since: 9 };
        let status = |row: VmRow, live| row.into_vm(live).status;
        assert_eq!(status(row(VmStatus::Stopped), running), VmStatus::Running);
        assert_eq!(status(row(VmStatus::Creating), running), VmStatus::Creating);
        assert_eq!(status(row(VmStatus::Deleting), gone), VmStatus::Deleting);
        assert_eq!(status(row(VmStatus::Running), gone), VmStatus::Missing);
        assert_eq!(
            status(row(VmStatus::Running), LiveState::Unknown),
            VmStatus::Unknown
        );
    }

    #[test]
    fn the_generation_is_the_newer_of_record_and_live_state() {
        let at = |generation| LiveState::Is {
            status: VmStatus::Running,
            generation,
        };
        assert_eq!(row(VmStatus::Running).into_vm(at(5)).generation, 7);
        assert_eq!(row(VmStatus::Running).into_vm(at(8)).generation, 8);
        let gone = LiveState::NoDomain { since: 9 };
        assert_eq!(row(VmStatus::Running).into_vm(gone).generation, 9);
        let unknown = row(VmStatus::Running).into_vm(LiveState::Unknown);
        assert_eq!(unknown.generation, 7);
    }
}
