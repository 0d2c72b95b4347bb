//! Start, shut down, stop, reboot, reset, pause, resume (SPEC §4). Whatever happens, the record
//! ends with what the hypervisor says, and every screen hears of it.

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::types::{Vm, VmAction, VmId};

use super::boot::{check_bootable, note_installer_boot};
use super::records::{fetch_row, visible_row};
use super::{refused, ServiceError};
use crate::context::Context;
use crate::host::Observation;
use crate::observed;

/// Whether `action` makes sense for `vm` now: the rule, without I/O (the dashboard disables
/// the same buttons from `VmAction::allowed_in`).
pub(super) fn check_action(vm: &Vm, action: VmAction) -> Result<(), AppError> {
    if action.allowed_in(vm.status) {
        return Ok(());
    }
    Err(AppError::new(
        ErrorCode::InvalidState,
        format!(
            "Cannot {} \"{}\" while it is {}.",
            action.as_str(),
            vm.name,
            vm.status.label().to_lowercase()
        ),
    ))
}

/// Records (and, if it is news, publishes) what the hypervisor said right after the action,
/// and answers with it: an event of an earlier action still on its way through the live view
/// must not make the answer to "stop" say "running".
async fn record_observation(cx: &Context, observation: Observation) -> Result<Vm, ServiceError> {
    let id = observation.uuid;
    let live = observation.live_state();
    observed::record(cx, observation).await;
    Ok(fetch_row(cx, id).await?.into_vm(live))
}

pub(super) async fn act(
    cx: Context,
    caller: Principal,
    id: VmId,
    action: VmAction,
) -> Result<Vm, ServiceError> {
    let row = visible_row(&cx, &caller, id.0).await?;
    let host = cx.hosts.get(&row.host)?.clone();
    let live = observed::live_state(&cx, &row).await?;
    check_action(&row.clone().into_vm(live), action).map_err(refused)?;
    let row = match action {
        VmAction::Start => check_bootable(&cx, &host, row).await?,
        _ => row,
    };
    match host.act(id.0, action).await {
        Ok(observation) => {
            if action == VmAction::Start {
                note_installer_boot(&cx, &row).await?;
            }
            record_observation(&cx, observation).await
        }
        Err(error) => {
            // Whatever happened, the record ends with what the hypervisor now says.
            if let Ok(observation) = host.observe(id.0).await {
                observed::record(&cx, observation).await;
            }
            Err(match action {
                VmAction::Start | VmAction::Resume => ServiceError::StartFailed(error),
                _ => error.into(),
            })
        }
    }
}
