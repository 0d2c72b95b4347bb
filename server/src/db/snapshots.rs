//! Queries on `snapshots`: who took each snapshot through Limen. Which snapshots exist is
//! libvirt's to say; these rows only add their author.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::models::VmRow;
use super::schema::{snapshots, vms};
use super::DbError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = snapshots, check_for_backend(diesel::pg::Pg))]
pub struct SnapshotRow {
    pub vm_uuid: Uuid,
    pub name: String,
    pub created_by: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The disk's size when it was taken (GiB).
    pub disk_size_gb: Option<i64>,
}

/// The rows of one VM's snapshots.
pub fn of_vm(conn: &mut PgConnection, vm: Uuid) -> Result<Vec<SnapshotRow>, DbError> {
    Ok(snapshots::table
        .filter(snapshots::vm_uuid.eq(vm))
        .select(SnapshotRow::as_select())
        .load(conn)?)
}

/// Every row.
pub fn all(conn: &mut PgConnection) -> Result<Vec<SnapshotRow>, DbError> {
    Ok(snapshots::table
        .select(SnapshotRow::as_select())
        .order((snapshots::vm_uuid, snapshots::name))
        .load(conn)?)
}

/// Records who took a snapshot; a row already there (a step run twice) stays as it is.
pub fn insert(
    conn: &mut PgConnection,
    vm: Uuid,
    name: &str,
    created_by: Option<&str>,
    disk_size_gb: Option<i64>,
) -> Result<(), DbError> {
    diesel::insert_into(snapshots::table)
        .values((
            snapshots::vm_uuid.eq(vm),
            snapshots::name.eq(name),
            snapshots::created_by.eq(created_by),
            snapshots::disk_size_gb.eq(disk_size_gb),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(())
}

/// Returns whether a row was deleted.
pub fn delete(conn: &mut PgConnection, vm: Uuid, name: &str) -> Result<bool, DbError> {
    Ok(diesel::delete(
        snapshots::table
            .filter(snapshots::vm_uuid.eq(vm))
            .filter(snapshots::name.eq(name)),
    )
    .execute(conn)?
        > 0)
}

/// Deletes the VM's rows for snapshots not in `existing`, libvirt's list read at `read_at`
/// (a row written since may be of a snapshot taken after that read: it stays); returns their
/// names.
pub fn keep_only(
    conn: &mut PgConnection,
    vm: Uuid,
    existing: &[String],
    read_at: DateTime<Utc>,
) -> Result<Vec<String>, DbError> {
    Ok(diesel::delete(
        snapshots::table
            .filter(snapshots::vm_uuid.eq(vm))
            .filter(snapshots::created_at.lt(read_at))
            .filter(diesel::dsl::not(snapshots::name.eq_any(existing))),
    )
    .returning(snapshots::name)
    .get_results(conn)?)
}

/// Records what the VM's disk file takes, in whole GiB (the disk quota counts it), as a write
/// at `fresh` of its host's clock like every write to a record; returns the record written.
pub fn set_disk_allocated(
    conn: &mut PgConnection,
    vm: Uuid,
    gb: i64,
    fresh: i64,
) -> Result<Option<VmRow>, DbError> {
    Ok(diesel::update(vms::table.find(vm))
        .set((vms::disk_allocated_gb.eq(gb), vms::generation.eq(fresh)))
        .returning(VmRow::as_returning())
        .get_result(conn)
        .optional()?)
}
