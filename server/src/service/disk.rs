//! A VM's system disk (SPEC §8): what it is, and growing it — online through libvirt when the
//! VM runs (the guest sees the new size at once), with `qemu-img` when it does not. Never
//! shrunk: a filesystem on it would lose its end.

use std::path::Path;

use app::auth::Principal;
use app::error::AppError;
use app::machine::DiskInfo;
use app::types::VmId;
use app::validate::DISK_MAX_GIB;

use super::records::{settled_row, visible_row};
use super::{refused, ServiceError};
use crate::auth::quota_report;
use crate::context::Context;
use crate::db::models::VmRow;
use crate::host::disk::{self, image_info};
use crate::recorded;

const GIB: u64 = 1 << 30;

/// Where the disk lies, said relative to the data directory (`disks/<uuid>.qcow2`), and only
/// the file name for a disk outside it (an adopted VM's): a host path never reaches a screen.
fn shown_path(cx: &Context, path: &Path) -> String {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    if path.parent() == Some(cx.disks.dir()) {
        format!("disks/{name}")
    } else {
        name
    }
}

async fn info(cx: &Context, row: &VmRow) -> Result<DiskInfo, ServiceError> {
    let path = Path::new(&row.disk_path);
    let image = image_info(path).await?;
    Ok(DiskInfo {
        format: image.format,
        virtual_size: image.virtual_size,
        allocated_size: image.allocated_size,
        backing_image: image
            .backing_file
            .as_deref()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned()),
        path: shown_path(cx, path),
    })
}

pub(super) async fn disk(
    cx: Context,
    caller: Principal,
    id: VmId,
) -> Result<DiskInfo, ServiceError> {
    let row = visible_row(&cx, &caller, id.0).await?;
    info(&cx, &row).await
}

/// Whether growing from `current` bytes to `size_gb` GiB is allowed: the rule, without I/O.
pub(super) fn check_growth(current: u64, size_gb: u64) -> Result<u64, AppError> {
    if size_gb > DISK_MAX_GIB {
        return Err(AppError::validation(format!(
            "A disk can have at most {DISK_MAX_GIB} GiB; got {size_gb} GiB."
        )));
    }
    let wanted = size_gb * GIB;
    if wanted <= current {
        return Err(AppError::validation(format!(
            "The disk has {} GiB; it can only grow (a smaller size would cut off the end of its filesystem).",
            current.div_ceil(GIB)
        )));
    }
    Ok(wanted)
}

/// Grows the disk to `size_gb` GiB, inside the owner's disk quota. The caller holds the VM's
/// lock and the owner's quota lock (the one create takes), so two resizes, or a resize and a
/// create, cannot both fit the last of a quota.
pub(super) async fn resize(
    cx: Context,
    caller: Principal,
    id: VmId,
    size_gb: u64,
) -> Result<DiskInfo, ServiceError> {
    let row = settled_row(&cx, &caller, id.0).await?;
    let Some(path) = cx.disks.own(&row.disk_path).map(Path::to_path_buf) else {
        return Err(refused(AppError::new(
            app::error::ErrorCode::InvalidState,
            format!(
                "\"{}\" has a disk of its own (it was adopted): Limen resizes only disks it created.",
                row.name
            ),
        )));
    };
    let current = image_info(&path).await?.virtual_size;
    let wanted = check_growth(current, size_gb).map_err(refused)?;
    if let Some(owner) = &row.owner {
        let quota = quota_report(&cx.db, owner).await?;
        let recorded_gb = u64::try_from(row.disk_size_gb).unwrap_or(0);
        if let Some(refusal) = quota.growth_refusal(size_gb.saturating_sub(recorded_gb)) {
            return Err(refused(AppError::new(
                app::error::ErrorCode::QuotaExceeded,
                refusal,
            )));
        }
    }
    let host = cx.hosts.get(&row.host)?.clone();
    if host.is_running(id.0).await? {
        host.grow_disk_live(id.0, &path, wanted).await?;
    } else {
        disk::grow(&path, wanted).await?;
    }
    recorded::set_disk_size(&cx, id.0, size_gb).await?;
    info(&cx, &row).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disk_only_grows_and_within_bounds() {
        assert_eq!(check_growth(4 * GIB, 5), Ok(5 * GIB));
        assert!(check_growth(4 * GIB, 4).is_err(), "the same size");
        assert!(check_growth(4 * GIB, 2).is_err(), "a shrink");
        assert!(check_growth(4 * GIB, DISK_MAX_GIB + 1).is_err());
        assert!(check_growth(4 * GIB, u64::MAX).is_err(), "no overflow");
    }
}
