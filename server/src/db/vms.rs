//! Queries on `vms`.

use app::types::{BootOrder, InstallationStatus, VmStatus};
use chrono::Utc;
use diesel::prelude::*;
use uuid::Uuid;

use super::models::{NewVmRow, VmRow};
use super::schema::vms;
use super::stored::{names_where, Stored};
use super::DbError;

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

/// The newest generation recorded, of an observation or of a record (0 if none): the hosts'
/// clocks go on from there.
pub fn vm_max_generation(conn: &mut PgConnection) -> Result<i64, DbError> {
    let (status, record) = vms::table
        .select((
            diesel::dsl::max(vms::status_generation),
            diesel::dsl::max(vms::generation),
        ))
        .first::<(Option<i64>, Option<i64>)>(conn)?;
    Ok(status.unwrap_or(0).max(record.unwrap_or(0)))
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

/// Records a status observed on `host` at `generation`, unless a newer observation is already
/// recorded or an operation holds the status ([`VmStatus::is_held_by_operation`]); the record
/// takes the version `fresh` (the host's clock now; the trigger raises it if need be). `None`:
/// nothing written.
///
/// Committed without waiting for the WAL flush: an observed status is a copy of libvirt's,
/// taken again at every start and reconcile, so losing the last few after a database crash
/// costs nothing, while waiting for the disk would delay every live update by a flush.
pub fn vm_record_observed(
    conn: &mut PgConnection,
    observed: Observed<'_>,
    fresh: i64,
) -> Result<Option<VmRow>, DbError> {
    conn.transaction(|conn| {
        diesel::sql_query("SET LOCAL synchronous_commit TO OFF").execute(conn)?;
        record_observed(conn, observed, fresh)
    })
}

/// A VM found on another host than its record's (a migration made outside Limen).
#[derive(Debug, Clone)]
pub struct Moved {
    pub id: Uuid,
    pub from: String,
    pub to: String,
    /// Its status on `to`, observed at `generation` (of `to`'s clock).
    pub status: VmStatus,
    pub generation: i64,
}

/// Moves the record to the host that runs the VM, unless it was moved already or an operation
/// holds it; the record as written, if it was.
pub fn vm_record_moved(
    conn: &mut PgConnection,
    moved: &Moved,
    fresh: i64,
) -> Result<Option<VmRow>, DbError> {
    let held = names_where(&VmStatus::ALL, VmStatus::is_held_by_operation);
    Ok(diesel::update(
        vms::table
            .find(moved.id)
            .filter(vms::host.eq(&moved.from))
            .filter(vms::status.ne_all(held)),
    )
    .set((
        vms::host.eq(&moved.to),
        vms::status.eq(Stored(moved.status)),
        vms::status_generation.eq(moved.generation),
        vms::updated_at.eq(Utc::now()),
        vms::generation.eq(fresh),
    ))
    .returning(VmRow::as_returning())
    .get_result(conn)
    .optional()?)
}

/// Moves the record from host `from` to host `to` (Limen's own migration) with the status `to`
/// reports, observed at `observed` (the source's events while it moved may have written another:
/// an undefine there reads as `missing`); the record as written, or as it is if it was on `to`
/// already (`None`: no record).
pub fn vm_set_host(
    conn: &mut PgConnection,
    id: Uuid,
    from: &str,
    to: &str,
    (status, observed): (VmStatus, i64),
    fresh: i64,
) -> Result<Option<VmRow>, DbError> {
    let moved = diesel::update(vms::table.find(id).filter(vms::host.eq(from)))
        .set((
            vms::host.eq(to),
            vms::status.eq(Stored(status)),
            vms::status_generation.eq(observed),
            vms::updated_at.eq(Utc::now()),
            vms::generation.eq(fresh),
        ))
        .returning(VmRow::as_returning())
        .get_result(conn)
        .optional()?;
    match moved {
        Some(row) => Ok(Some(row)),
        None => vm_fetch(conn, id),
    }
}

/// A status libvirt reported for a domain of a host, at a generation.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub id: Uuid,
    pub host: &'a str,
    pub status: VmStatus,
    pub generation: i64,
}

fn record_observed(
    conn: &mut PgConnection,
    observed: Observed<'_>,
    fresh: i64,
) -> Result<Option<VmRow>, DbError> {
    let held = names_where(&VmStatus::ALL, VmStatus::is_held_by_operation);
    Ok(diesel::update(
        vms::table
            .find(observed.id)
            .filter(vms::host.eq(observed.host))
            .filter(vms::status_generation.lt(observed.generation))
            .filter(vms::status.ne_all(held)),
    )
    .set((
        vms::status.eq(Stored(observed.status)),
        vms::status_generation.eq(observed.generation),
        vms::updated_at.eq(Utc::now()),
        vms::generation.eq(fresh),
    ))
    .returning(VmRow::as_returning())
    .get_result(conn)
    .optional()?)
}

/// Sets the status an operation decides (`deleting`; `creating` → what was observed at the
/// end), observed at `generation`; the record takes the version `fresh`.
pub fn vm_set_status(
    conn: &mut PgConnection,
    id: Uuid,
    status: VmStatus,
    generation: i64,
    fresh: i64,
) -> Result<Option<VmRow>, DbError> {
    Ok(diesel::update(vms::table.find(id))
        .set((
            vms::status.eq(Stored(status)),
            vms::status_generation.eq(generation),
            vms::updated_at.eq(Utc::now()),
            vms::generation.eq(fresh),
        ))
        .returning(VmRow::as_returning())
        .get_result(conn)
        .optional()?)
}

/// A VM's boot order and media as libvirt has them (the media by its name), read at version
/// `fresh`: written if they differ from the record and nothing wrote it since. `None`: nothing
/// written (no change, no record, or a newer write).
pub fn vm_record_settings(
    conn: &mut PgConnection,
    id: Uuid,
    boot_order: BootOrder,
    media: Option<&str>,
    fresh: i64,
) -> Result<Option<VmRow>, DbError> {
    let order = Stored(boot_order);
    Ok(diesel::update(
        vms::table
            .find(id)
            .filter(vms::generation.lt(fresh))
            .filter(
                vms::boot_order
                    .ne(order)
                    .or(vms::current_media.is_distinct_from(media)),
            ),
    )
    .set((
        vms::boot_order.eq(order),
        vms::current_media.eq(media),
        vms::updated_at.eq(Utc::now()),
        vms::generation.eq(fresh),
    ))
    .returning(VmRow::as_returning())
    .get_result(conn)
    .optional()?)
}

/// Sets the role (`None` clears it).
pub fn vm_set_role(
    conn: &mut PgConnection,
    id: Uuid,
    role: Option<&str>,
    fresh: i64,
) -> Result<Option<VmRow>, DbError> {
    Ok(diesel::update(vms::table.find(id))
        .set((
            vms::role.eq(role),
            vms::updated_at.eq(Utc::now()),
            vms::generation.eq(fresh),
        ))
        .returning(VmRow::as_returning())
        .get_result(conn)
        .optional()?)
}

/// Moves the installation status from one of `from` to `to`; `None` if it was in none of them.
pub fn vm_set_installation(
    conn: &mut PgConnection,
    id: Uuid,
    from: &[InstallationStatus],
    to: InstallationStatus,
    fresh: i64,
) -> Result<Option<VmRow>, DbError> {
    let from: Vec<&str> = from.iter().map(|status| status.as_str()).collect();
    Ok(diesel::update(
        vms::table
            .find(id)
            .filter(vms::installation_status.eq_any(from)),
    )
    .set((
        vms::installation_status.eq(Stored(to)),
        vms::updated_at.eq(Utc::now()),
        vms::generation.eq(fresh),
    ))
    .returning(VmRow::as_returning())
    .get_result(conn)
    .optional()?)
}

/// Records the disk's new size.
pub fn vm_set_disk_size(
    conn: &mut PgConnection,
    id: Uuid,
    size_gb: i64,
    fresh: i64,
) -> Result<Option<VmRow>, DbError> {
    Ok(diesel::update(vms::table.find(id))
        .set((
            vms::disk_size_gb.eq(size_gb),
            vms::updated_at.eq(Utc::now()),
            vms::generation.eq(fresh),
        ))
        .returning(VmRow::as_returning())
        .get_result(conn)
        .optional()?)
}

/// Returns whether a row was deleted.
pub fn vm_delete(conn: &mut PgConnection, id: Uuid) -> Result<bool, DbError> {
    Ok(diesel::delete(vms::table.find(id)).execute(conn)? > 0)
}
