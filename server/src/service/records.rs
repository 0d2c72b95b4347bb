//! The VM as a caller may see it: another user's VM is "not found", exactly like a VM that does
//! not exist (its existence is not revealed).

use app::auth::Principal;
use app::error::AppError;
use app::types::Vm;
use uuid::Uuid;

use super::{refused, ServiceError};
use crate::context::Context;
use crate::db::models::VmRow;
use crate::db::vms as q;
use crate::observed;

/// The record, whoever asks.
pub(super) async fn fetch_row(cx: &Context, id: Uuid) -> Result<VmRow, ServiceError> {
    cx.db
        .run(move |conn| q::vm_fetch(conn, id))
        .await?
        .ok_or_else(|| refused(AppError::vm_not_found()))
}

/// The record, if this caller may see it.
pub(super) async fn visible_row(
    cx: &Context,
    caller: &Principal,
    id: Uuid,
) -> Result<VmRow, ServiceError> {
    let row = fetch_row(cx, id).await?;
    if caller.may_see(row.owner.as_deref()) {
        Ok(row)
    } else {
        Err(refused(AppError::vm_not_found()))
    }
}

/// The VM as it is now, if this caller may see it.
pub(super) async fn visible(
    cx: &Context,
    caller: &Principal,
    id: Uuid,
) -> Result<Vm, ServiceError> {
    let row = visible_row(cx, caller, id).await?;
    let live = observed::live_state(cx, &row).await?;
    Ok(row.into_vm(live))
}

/// The VM as it is now (after a change this process made); gone is "not found".
pub(super) async fn current(cx: &Context, id: Uuid) -> Result<Vm, ServiceError> {
    observed::vm_now(cx, id)
        .await?
        .ok_or_else(|| refused(AppError::vm_not_found()))
}

/// The record, if this caller may see it and no operation holds it (a VM being created or
/// deleted cannot have its settings changed).
pub(super) async fn settled_row(
    cx: &Context,
    caller: &Principal,
    id: Uuid,
) -> Result<VmRow, ServiceError> {
    let row = visible_row(cx, caller, id).await?;
    if row.status.is_held_by_operation() {
        return Err(refused(AppError::new(
            app::error::ErrorCode::InvalidState,
            format!(
                "\"{}\" is being {}; try again when that is done.",
                row.name,
                if row.status == app::types::VmStatus::Creating {
                    "created"
                } else {
                    "deleted"
                }
            ),
        )));
    }
    Ok(row)
}
