//! Delete (SPEC §4): the delete saga removes the domain, the disk Limen made and the record;
//! what it could not remove is reported, never hidden.

use app::auth::Principal;
use app::types::{DeleteReport, VmId};

use super::records::visible_row;
use super::ServiceError;
use crate::host::HostKey;
use crate::live::VmChange;
use crate::ops::vm_delete::DeleteVm;
use crate::ops::Sagas;

/// Any status allows a delete: a VM held by an operation is locked until that operation ends,
/// and one left `deleting` by a crash is finished by deleting it again.
pub(super) async fn delete(
    sagas: Sagas,
    caller: Principal,
    id: VmId,
) -> Result<DeleteReport, ServiceError> {
    let cx = sagas.context();
    let row = visible_row(cx, &caller, id.0).await?;
    // The record's host, configured or not: a VM of a host Limen no longer reaches can still be
    // deleted from the records (what it could not remove is reported).
    let host = HostKey::from(row.host.as_str());
    let saga = DeleteVm {
        vm: id.0,
        host: host.clone(),
        disk_path: row.disk_path.into(),
    };
    let leftovers = sagas.execute(&saga).await.map_err(ServiceError::Delete)?;
    cx.bus.publish(VmChange::Deleted {
        uuid: id,
        owner: row.owner.clone(),
        host,
    });
    tracing::info!(uuid = %id, name = %row.name, leftovers = leftovers.len(), "VM deleted");
    Ok(DeleteReport {
        uuid: id,
        leftovers,
    })
}
