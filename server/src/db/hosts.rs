//! Queries on `hosts`: the libvirt hosts Limen manages.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::schema::{hosts, vms};
use super::DbError;

/// The primary key (a host's key taken).
pub const HOSTS_PKEY: &str = "hosts_pkey";
/// The unique index on the lower-cased name.
pub const HOSTS_NAME_KEY: &str = "hosts_name_key";
/// The unique constraint on libvirt's host UUID (the same daemon added twice).
pub const HOSTS_LIBVIRT_UUID_KEY: &str = "hosts_libvirt_uuid_key";
/// The foreign key from `vms.host`: a host with VMs cannot be removed.
pub const VMS_HOST_FKEY: &str = "vms_host_fkey";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = hosts, check_for_backend(diesel::pg::Pg))]
pub struct HostRow {
    pub key: String,
    pub name: String,
    pub uri: String,
    pub enabled: bool,
    pub libvirt_uuid: Option<Uuid>,
    pub added_at: DateTime<Utc>,
}

/// What an admin may change of a host (`None`: unchanged).
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = hosts)]
pub struct HostChange {
    pub name: Option<String>,
    pub enabled: Option<bool>,
}

/// Every host, the local one first, then by name.
pub fn host_list(conn: &mut PgConnection) -> Result<Vec<HostRow>, DbError> {
    let mut rows: Vec<HostRow> = hosts::table
        .select(HostRow::as_select())
        .order(hosts::name.asc())
        .load(conn)?;
    rows.sort_by_key(|row| row.key != crate::host::HostKey::LOCAL);
    Ok(rows)
}

pub fn host_fetch(conn: &mut PgConnection, key: &str) -> Result<Option<HostRow>, DbError> {
    Ok(hosts::table
        .find(key)
        .select(HostRow::as_select())
        .first(conn)
        .optional()?)
}

/// Writes the local host's row with the configured URI (every start: the configuration is
/// its truth).
pub fn host_ensure_local(conn: &mut PgConnection, uri: &str) -> Result<(), DbError> {
    let local = crate::host::HostKey::LOCAL;
    diesel::insert_into(hosts::table)
        .values((
            hosts::key.eq(local),
            hosts::name.eq(local),
            hosts::uri.eq(uri),
        ))
        .on_conflict(hosts::key)
        .do_update()
        .set(hosts::uri.eq(uri))
        .execute(conn)?;
    Ok(())
}

pub fn host_insert(conn: &mut PgConnection, row: &HostRow) -> Result<HostRow, DbError> {
    Ok(diesel::insert_into(hosts::table)
        .values(row)
        .returning(HostRow::as_returning())
        .get_result(conn)?)
}

/// Records libvirt's UUID of a host (learned at its first connection).
pub fn host_set_libvirt_uuid(
    conn: &mut PgConnection,
    key: &str,
    uuid: Uuid,
) -> Result<(), DbError> {
    diesel::update(hosts::table.find(key))
        .set(hosts::libvirt_uuid.eq(uuid))
        .execute(conn)?;
    Ok(())
}

/// The host as changed; `None`: no such host.
pub fn host_update(
    conn: &mut PgConnection,
    key: &str,
    change: &HostChange,
) -> Result<Option<HostRow>, DbError> {
    if change.name.is_none() && change.enabled.is_none() {
        return host_fetch(conn, key);
    }
    Ok(diesel::update(hosts::table.find(key))
        .set(change)
        .returning(HostRow::as_returning())
        .get_result(conn)
        .optional()?)
}

/// Removes a host that has no VM; `Err(names)`: the VMs it still has, by name, with those an
/// unfinished operation moves to or from it (a migration in flight).
pub fn host_delete(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Result<bool, Vec<String>>, DbError> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    conn.transaction(|conn| {
        let mut names: Vec<String> = vms::table
            .filter(vms::host.eq(key))
            .select(vms::name)
            .order(vms::name.asc())
            .load(conn)?;
        let moving: Vec<Name> = diesel::sql_query(
            "SELECT v.name FROM operations o JOIN vms v ON v.uuid = o.vm_uuid \
             WHERE o.state IN ('running', 'unwinding') \
             AND (o.params->>'to' = $1 OR o.params->>'from' = $1) ORDER BY v.name",
        )
        .bind::<diesel::sql_types::Text, _>(key)
        .load(conn)?;
        for row in moving {
            if !names.contains(&row.name) {
                names.push(row.name);
            }
        }
        if !names.is_empty() {
            return Ok(Err(names));
        }
        let deleted = diesel::delete(hosts::table.find(key)).execute(conn)?;
        Ok(Ok(deleted == 1))
    })
}
