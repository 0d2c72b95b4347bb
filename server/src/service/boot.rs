//! Boot order and installation status (SPEC §8, seed 003): the order lives in libvirt's
//! persistent definition (the firmware reads it at a cold boot); the installation status is
//! Limen's own, moved by the user (complete, failed) and by the first start from the media.

use std::sync::Arc;

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::machine::{boot_check, BootOrderReport, InstallationReport, Suggestion};
use app::types::{BootOrder, InstallationStatus, VmId};

use super::records::{settled_row, visible_row};
use super::{refused, ServiceError};
use crate::context::Context;
use crate::db::models::VmRow;
use crate::host::Host;
use crate::{observed, recorded};

fn boot_report(row: &VmRow, running: bool) -> BootOrderReport {
    BootOrderReport {
        boot_order: row.boot_order,
        applies_at_next_boot: running,
        warning: match boot_check(row.boot_order, row.current_media.as_deref()) {
            Ok(warning) => warning,
            Err(refusal) => Some(refusal),
        },
    }
}

/// The record's boot order and media made to say what libvirt says now.
async fn settings_now(cx: &Context, host: &Arc<Host>, row: VmRow) -> Result<VmRow, ServiceError> {
    Ok(observed::record_settings(cx, host, row.uuid)
        .await?
        .unwrap_or(row))
}

pub(super) async fn boot_order(
    cx: Context,
    caller: Principal,
    id: VmId,
) -> Result<BootOrderReport, ServiceError> {
    let row = visible_row(&cx, &caller, id.0).await?;
    let host = cx.hosts.get(&row.host)?.clone();
    let row = settings_now(&cx, &host, row).await?;
    Ok(boot_report(&row, host.is_running(id.0).await?))
}

pub(super) async fn set_boot_order(
    cx: Context,
    caller: Principal,
    id: VmId,
    order: BootOrder,
) -> Result<BootOrderReport, ServiceError> {
    let row = settled_row(&cx, &caller, id.0).await?;
    let host = cx.hosts.get(&row.host)?.clone();
    host.set_boot_order(id.0, order).await?;
    let row = settings_now(&cx, &host, row).await?;
    Ok(boot_report(&row, host.is_running(id.0).await?))
}

fn installation_report(row: VmRow) -> InstallationReport {
    let vm = row.into_vm(crate::host::LiveState::Unknown);
    InstallationReport {
        installation_status: vm.installation_status,
        boot_order: vm.boot_order,
        current_media: vm.current_media.clone(),
        suggestions: Suggestion::for_vm(&vm),
    }
}

pub(super) async fn installation(
    cx: Context,
    caller: Principal,
    id: VmId,
) -> Result<InstallationReport, ServiceError> {
    Ok(installation_report(visible_row(&cx, &caller, id.0).await?))
}

/// Marks the installation done (or failed). Completing never changes the boot order or the
/// media (seed 003): the answer suggests what to change, and the user decides.
pub(super) async fn complete_installation(
    cx: Context,
    caller: Principal,
    id: VmId,
    failed: bool,
) -> Result<InstallationReport, ServiceError> {
    use InstallationStatus as S;
    let row = settled_row(&cx, &caller, id.0).await?;
    let (from, to): (&'static [S], S) = if failed {
        (&[S::NotInstalled, S::Installing], S::InstallationFailed)
    } else {
        (
            &[S::NotInstalled, S::Installing, S::InstallationFailed],
            S::Installed,
        )
    };
    if row.installation_status == to {
        return Ok(installation_report(row));
    }
    if !from.contains(&row.installation_status) {
        return Err(refused(AppError::new(
            ErrorCode::InvalidState,
            format!(
                "\"{}\" is {}: an installation that finished cannot fail.",
                row.name,
                row.installation_status.label().to_lowercase()
            ),
        )));
    }
    let row = recorded::set_installation(&cx, id.0, from, to)
        .await?
        .ok_or_else(|| {
            refused(AppError::new(
                ErrorCode::InvalidState,
                "The installation status changed meanwhile; look again.",
            ))
        })?;
    Ok(installation_report(row))
}

/// Before a start: whether the VM can boot at all with its order and media (`cdrom` alone
/// with an empty drive cannot), from libvirt's definition.
pub(super) async fn check_bootable(
    cx: &Context,
    host: &Arc<Host>,
    row: VmRow,
) -> Result<VmRow, ServiceError> {
    let row = settings_now(cx, host, row).await?;
    boot_check(row.boot_order, row.current_media.as_deref())
        .map_err(|refusal| refused(AppError::new(ErrorCode::InvalidState, refusal)))?;
    Ok(row)
}

/// After a start: a VM not installed yet that booted its installer is now `Installing`.
pub(super) async fn note_installer_boot(cx: &Context, row: &VmRow) -> Result<(), ServiceError> {
    use InstallationStatus as S;
    if app::machine::boots_from_media(row.boot_order, row.current_media.as_deref())
        && matches!(
            row.installation_status,
            S::NotInstalled | S::InstallationFailed
        )
    {
        recorded::set_installation(
            cx,
            row.uuid,
            &[S::NotInstalled, S::InstallationFailed],
            S::Installing,
        )
        .await?;
    }
    Ok(())
}
