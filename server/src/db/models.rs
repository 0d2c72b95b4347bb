//! Database rows. Kept apart from the wire types in `app::types`; `VmRow::to_vm` converts.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::vms;

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
    pub boot_order: String,
    pub installation_status: String,
    pub current_media: Option<String>,
    pub role: Option<String>,
    pub status: String,
    pub status_generation: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
    pub boot_order: String,
    pub installation_status: String,
    pub current_media: Option<String>,
    pub role: Option<String>,
    pub status: String,
    pub status_generation: i64,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::operations, check_for_backend(diesel::pg::Pg))]
pub struct OperationRow {
    pub id: Uuid,
    pub kind: String,
    pub vm_uuid: Uuid,
    pub params: serde_json::Value,
    pub steps_started: Vec<String>,
    pub state: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
