//! The writer of what a user decides about a VM that libvirt does not hold: its role, its
//! installation status, the size its disk was grown to. Below the service (which decides
//! whether a change is allowed) like `observed`: each write takes the host's fresh generation,
//! and the VM as it then is goes out on the bus.

use app::types::InstallationStatus;
use uuid::Uuid;

use crate::context::Context;
use crate::db::models::VmRow;
use crate::db::vms as q;
use diesel::PgConnection;

use crate::db::DbError;
use crate::live::VmChange;
use crate::observed::{live_state, ObservedError};

/// Runs `write` on the record at a fresh generation of its host, and publishes the VM if a row
/// was written. `None`: nothing was (no record, or its guard did not hold).
async fn write<F>(cx: &Context, id: Uuid, write: F) -> Result<Option<VmRow>, ObservedError>
where
    F: FnOnce(&mut PgConnection, i64) -> Result<Option<VmRow>, DbError> + Send + 'static,
{
    let Some(row) = cx.db.run(move |conn| q::vm_fetch(conn, id)).await? else {
        return Ok(None);
    };
    let host = cx.hosts.get(&row.host)?.clone();
    let fresh = host.fresh_generation();
    let Some(row) = cx.db.run(move |conn| write(conn, fresh)).await? else {
        return Ok(None);
    };
    host.written_at(row.generation);
    let live = live_state(cx, &row).await?;
    cx.bus.publish(VmChange::Updated(row.clone().into_vm(live)));
    Ok(Some(row))
}

pub async fn set_role(
    cx: &Context,
    id: Uuid,
    role: Option<String>,
) -> Result<Option<VmRow>, ObservedError> {
    write(cx, id, move |conn, fresh| {
        q::vm_set_role(conn, id, role.as_deref(), fresh)
    })
    .await
}

/// Moves the installation status to `to` if it is one of `from` now.
pub async fn set_installation(
    cx: &Context,
    id: Uuid,
    from: &'static [InstallationStatus],
    to: InstallationStatus,
) -> Result<Option<VmRow>, ObservedError> {
    write(cx, id, move |conn, fresh| {
        q::vm_set_installation(conn, id, from, to, fresh)
    })
    .await
}

pub async fn set_disk_size(
    cx: &Context,
    id: Uuid,
    size_gb: u64,
) -> Result<Option<VmRow>, ObservedError> {
    let size = i64::try_from(size_gb).unwrap_or(i64::MAX);
    write(cx, id, move |conn, fresh| {
        q::vm_set_disk_size(conn, id, size, fresh)
    })
    .await
}
