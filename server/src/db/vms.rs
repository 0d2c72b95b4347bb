//! Queries on `vms`.

use app::types::VmStatus;
use chrono::Utc;
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use uuid::Uuid;

use super::models::{NewVmRow, VmRow};
use super::schema::vms;
use super::stored::{names_where, Stored};
use super::DbError;

/// The next record version (see the `generation` column): taken by every write.
fn next_generation() -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>("nextval('vm_generation_seq')")
}

/// The unique constraint on `vms.name`.
pub const VMS_NAME_KEY: &str = "vms_name_key";
/// The primary key (the domain UUID).
pub const VMS_PKEY: &str = "vms_pkey";

pub fn vm_list(conn: &mut PgConnection) -> Result<Vec<VmRow>, DbError> {
    Ok(vms::table
        .select(VmRow::as_select())
        .order(vms::name.asc())
        .load(conn)?)
}

pub fn vm_fetch(conn: &mut PgConnection, id: Uuid) -> Result<Option<VmRow>, DbError> {
    Ok(vms::table
        .find(id)
        .select(VmRow::as_select())
        .first(conn)
        .optional()?)
}

/// The newest status generation recorded (0 if none).
pub fn vm_max_generation(conn: &mut PgConnection) -> Result<i64, DbError> {
    Ok(vms::table
        .select(diesel::dsl::max(vms::status_generation))
        .first::<Option<i64>>(conn)?
        .unwrap_or(0))
}

pub fn vm_name_taken(conn: &mut PgConnection, name: &str) -> Result<bool, DbError> {
    Ok(
        diesel::select(diesel::dsl::exists(vms::table.filter(vms::name.eq(name))))
            .get_result(conn)?,
    )
}

pub fn vm_insert(conn: &mut PgConnection, row: &NewVmRow) -> Result<VmRow, DbError> {
    Ok(diesel::insert_into(vms::table)
        .values(row.clone())
        .returning(VmRow::as_returning())
        .get_result(conn)?)
}

/// Records a status observed at `generation`, unless a newer observation is already recorded
/// or an operation holds the status ([`VmStatus::is_held_by_operation`]). `None`: nothing
/// written.
///
/// Committed without waiting for the WAL flush: an observed status is a copy of libvirt's,
/// taken again at every start and reconcile, so losing the last few after a database crash
/// costs nothing, while waiting for the disk would delay every live update by a flush.
pub fn vm_record_observed(
    conn: &mut PgConnection,
    id: Uuid,
    status: VmStatus,
    generation: i64,
) -> Result<Option<VmRow>, DbError> {
    conn.transaction(|conn| {
        diesel::sql_query("SET LOCAL synchronous_commit TO OFF").execute(conn)?;
        record_observed(conn, id, status, generation)
    })
}

fn record_observed(
    conn: &mut PgConnection,
    id: Uuid,
    status: VmStatus,
    generation: i64,
) -> Result<Option<VmRow>, DbError> {
    let held = names_where(&VmStatus::ALL, VmStatus::is_held_by_operation);
    Ok(diesel::update(
        vms::table
            .find(id)
            .filter(vms::status_generation.lt(generation))
            .filter(vms::status.ne_all(held)),
    )
    .set((
        vms::status.eq(Stored(status)),
        vms::status_generation.eq(generation),
        vms::updated_at.eq(Utc::now()),
        vms::generation.eq(next_generation()),
    ))
    .returning(VmRow::as_returning())
    .get_result(conn)
    .optional()?)
}

/// Sets the status an operation decides (`deleting`; `creating` → what was observed at the end).
pub fn vm_set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: VmStatus,
    generation: i64,
) -> Result<Option<VmRow>, DbError> {
    Ok(diesel::update(vms::table.find(id))
        .set((
            vms::status.eq(Stored(status)),
            vms::status_generation.eq(generation),
            vms::updated_at.eq(Utc::now()),
            vms::generation.eq(next_generation()),
        ))
        .returning(VmRow::as_returning())
        .get_result(conn)
        .optional()?)
}

/// Returns whether a row was deleted.
pub fn vm_delete(conn: &mut PgConnection, id: Uuid) -> Result<bool, DbError> {
    Ok(diesel::delete(vms::table.find(id)).execute(conn)? > 0)
}
