//! Forgetting a missing VM: its record goes, and nothing else (a disk it had stays, to be found
//! as an orphan). Only while libvirt has no domain for it.

use app::error::{AppError, ErrorCode};
use app::types::VmId;

use super::ReconcileError;
use crate::context::Context;
use crate::db::vms as q;
use crate::host::HostError;
use crate::live::VmChange;

/// Whether a record may be forgotten: only while its domain is gone (the rule, without I/O).
pub fn check_forget(name: &str, domain_exists: bool) -> Result<(), AppError> {
    if !domain_exists {
        return Ok(());
    }
    Err(AppError::new(
        ErrorCode::InvalidState,
        format!(
            "libvirt has the domain of \"{name}\" again: it is not missing. Run reconcile again."
        ),
    ))
}

/// Removes the record of the missing VM `id`. The caller has checked who may (admins).
pub async fn forget(cx: &Context, id: VmId) -> Result<(), ReconcileError> {
    let row = cx
        .db
        .run(move |conn| q::vm_fetch(conn, id.0))
        .await?
        .ok_or_else(|| ReconcileError::Refused(AppError::vm_not_found()))?;
    // Checked again now, under the VM's lock: the report may be old. A VM whose host is no
    // longer configured has no domain Limen can reach: its record may go.
    let exists = match cx.hosts.get(&row.host) {
        Ok(host) => host.observe(id.0).await?.status.is_some(),
        Err(HostError::UnknownHost(_)) => false,
        Err(error) => return Err(error.into()),
    };
    check_forget(&row.name, exists).map_err(ReconcileError::Refused)?;
    cx.db.run(move |conn| q::vm_delete(conn, id.0)).await?;
    tracing::info!(uuid = %id, name = %row.name, "record of a missing VM removed");
    cx.bus.publish(VmChange::Deleted {
        uuid: id,
        owner: row.owner,
        host: crate::host::HostKey::from(row.host.as_str()),
    });
    Ok(())
}
