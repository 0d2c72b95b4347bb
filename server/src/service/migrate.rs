//! Moving a VM to another host (SPEC §13): admins only. The rule ("may this VM go there now,
//! and how") beside the verb; the work is the migration saga's.

use std::path::{Component, Path};

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::hosts::MigrateRequest;
use app::machine::ProgressState;
use app::types::{Vm, VmId, VmStatus};
use uuid::Uuid;

use super::reconciliation::require_admin;
use super::records::current;
use super::{refused, ServiceError};
use crate::db::hosts as hosts_q;
use crate::db::vms as q;
use crate::host::{definition, HostKey};
use crate::ops::vm_migrate::MigrateVm;
use crate::ops::Sagas;

/// How a VM in `status` may move, given what the caller asked (`live`: absent, decide).
fn how(status: VmStatus, live: Option<bool>) -> Result<bool, AppError> {
    let active = status.is_active();
    match (live.unwrap_or(active), status) {
        (true, VmStatus::Running | VmStatus::Paused) => Ok(true),
        (true, _) => Err(AppError::new(
            ErrorCode::InvalidState,
            format!(
                "Only a running or paused VM migrates live; this one is {}.",
                status.label()
            ),
        )),
        (false, VmStatus::Stopped | VmStatus::Crashed) => Ok(false),
        (false, _) if active => Err(AppError::new(
            ErrorCode::InvalidState,
            "A running VM migrates live; stop it first to move it offline.",
        )),
        (false, _) => Err(AppError::new(
            ErrorCode::InvalidState,
            format!("This VM cannot move while it is {}.", status.label()),
        )),
    }
}

/// Whether `file` is outside the `shared` directory (a `..` in it counts as outside).
fn outside(file: &Path, shared: &Path) -> bool {
    !file.starts_with(shared) || file.components().any(|c| c == Component::ParentDir)
}

pub(super) async fn migrate(
    sagas: Sagas,
    caller: Principal,
    id: VmId,
    request: MigrateRequest,
) -> Result<Vm, ServiceError> {
    require_admin(&caller).map_err(refused)?;
    let cx = sagas.context();
    let vm = id.0;
    let Some(row) = cx.db.run(move |conn| q::vm_fetch(conn, vm)).await? else {
        return Err(refused(AppError::vm_not_found()));
    };
    let to = request.host.clone();
    let destination = cx
        .db
        .run(move |conn| hosts_q::host_fetch(conn, &to))
        .await?
        .ok_or_else(|| {
            refused(AppError::new(
                ErrorCode::HostNotFound,
                format!("There is no host {:?}.", request.host),
            ))
        })?;
    if destination.key == row.host {
        return Err(refused(AppError::new(
            ErrorCode::InvalidState,
            format!("The VM is on {} already.", destination.name),
        )));
    }
    if !destination.enabled {
        return Err(refused(AppError::new(
            ErrorCode::InvalidState,
            format!(
                "The host {} is disabled: no VM moves there.",
                destination.name
            ),
        )));
    }
    if row.status.is_held_by_operation() {
        return Err(refused(AppError::new(
            ErrorCode::InvalidState,
            format!(
                "The VM is {}: it moves once that is over.",
                row.status.label()
            ),
        )));
    }
    let source = cx.hosts.get(&row.host)?;
    let target = cx.hosts.get(&destination.key)?;
    let status = source
        .observe(vm)
        .await?
        .status
        .unwrap_or(VmStatus::Missing);
    let live = how(status, request.live).map_err(refused)?;
    let definition = definition::parse(&source.domain_xml(vm).await?).ok();
    let files = definition
        .iter()
        .flat_map(|d| d.disk.iter().chain(&d.cdrom));
    let shared = cx.disks.dir().parent().unwrap_or(cx.disks.dir());
    if files.into_iter().any(|file| outside(file, shared)) {
        return Err(refused(AppError::new(
            ErrorCode::InvalidState,
            "A disk or medium of this VM is outside Limen's data directory, the storage every \
             host shares: it does not migrate (Limen does not copy disks between hosts).",
        )));
    }
    if source.snapshot_count(vm).await? > 0 {
        return Err(refused(AppError::new(
            ErrorCode::InvalidState,
            "A VM with snapshots does not migrate (libvirt keeps their states on this host): \
             delete its snapshots first.",
        )));
    }
    if target.domain_name_exists(row.name.clone()).await? {
        return Err(refused(AppError::new(
            ErrorCode::VmAlreadyExists,
            format!(
                "The host {} already has a VM named \"{}\".",
                destination.name, row.name
            ),
        )));
    }
    let saga = MigrateVm {
        job: Uuid::new_v4(),
        vm,
        from: HostKey::from(row.host.as_str()),
        to: HostKey::from(destination.key.as_str()),
        live,
        running: status == VmStatus::Running,
        owner: row.owner.clone(),
    };
    let publish = |progress| {
        cx.bus.publish(crate::live::VmChange::Progress {
            progress,
            owner: row.owner.clone(),
        })
    };
    publish(saga.progress(ProgressState::Running, 0, None));
    if let Err(failure) = sagas.execute(&saga).await {
        let error = ServiceError::Migrate(failure);
        let said = crate::error::Describe::describe(&error).message;
        publish(saga.progress(ProgressState::Failed, 0, Some(said)));
        return Err(error);
    }
    publish(saga.progress(ProgressState::Done, 100, None));
    current(cx, vm).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_in_the_shared_directory_move() {
        let shared = Path::new("/var/lib/limen");
        assert!(!outside(Path::new("/var/lib/limen/disks/a.qcow2"), shared));
        assert!(outside(Path::new("/srv/legacy.img"), shared));
        assert!(outside(Path::new("/var/lib/limen-old/a.qcow2"), shared));
        assert!(outside(
            Path::new("/var/lib/limen/disks/../../../etc/a"),
            shared
        ));
    }

    #[test]
    fn a_running_vm_moves_live_a_stopped_one_by_its_definition() {
        assert_eq!(how(VmStatus::Running, None), Ok(true));
        assert_eq!(how(VmStatus::Paused, Some(true)), Ok(true));
        assert_eq!(how(VmStatus::Stopped, None), Ok(false));
        assert_eq!(how(VmStatus::Crashed, Some(false)), Ok(false));
        for (status, live) in [
            (VmStatus::Stopped, Some(true)),
            (VmStatus::Running, Some(false)),
            (VmStatus::Missing, None),
            (VmStatus::Unknown, None),
            (VmStatus::ShuttingDown, Some(false)),
        ] {
            let refused = how(status, live).expect_err("refused");
            assert_eq!(refused.code, ErrorCode::InvalidState, "{status:?} {live:?}");
        }
    }
}
