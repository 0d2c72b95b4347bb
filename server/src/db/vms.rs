//! Queries on `vms`.

use chrono::Utc;
use diesel::prelude::*;
use uuid::Uuid;

use super::models::{NewVmRow, VmRow};
use super::schema::vms;
use super::DbError;

/// The unique constraint on `vms.name`.
pub const VMS_NAME_KEY: &str = "vms_name_key";

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

pub fn vm_name_taken(conn: &mut PgConnection, name: &str) -> Result<bool, DbError> {
    Ok(
        diesel::select(diesel::dsl::exists(vms::table.filter(vms::name.eq(name))))
            .get_result(conn)?,
    )
}

pub fn vm_insert(conn: &mut PgConnection, row: &NewVmRow) -> Result<VmRow, DbError> {
    Ok(diesel::insert_into(vms::table)
        .values(row)
        .returning(VmRow::as_returning())
        .get_result(conn)?)
}

/// Records an observed status; bumps the generation so later writers can tell it is newer.
pub fn vm_update_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: &str,
) -> Result<Option<VmRow>, DbError> {
    Ok(diesel::update(vms::table.find(id))
        .set((
            vms::status.eq(status),
            vms::status_generation.eq(vms::status_generation + 1),
            vms::updated_at.eq(Utc::now()),
        ))
        .returning(VmRow::as_returning())
        .get_result(conn)
        .optional()?)
}

/// Returns whether a row was deleted.
pub fn vm_delete(conn: &mut PgConnection, id: Uuid) -> Result<bool, DbError> {
    Ok(diesel::delete(vms::table.find(id)).execute(conn)? > 0)
}
