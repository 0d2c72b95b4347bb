//! The ISO library (SPEC §8) and the media in a VM's CD-ROM drive: files in `data_dir/isos`,
//! named by their library name only (a path or `..` is refused by the library).

use app::auth::Principal;
use app::error::AppError;
use app::types::{MediaFile, Vm, VmId};

use super::records::{current, settled_row};
use super::{ServiceError, VmService};
use crate::context::Context;
use crate::error::report;
use crate::observed;

/// Each file with the VMs among `vms` that use it, by name.
fn with_users(
    mut files: Vec<MediaFile>,
    vms: &[&Vm],
    uses: impl Fn(&Vm, &str) -> bool,
) -> Vec<MediaFile> {
    for file in &mut files {
        file.used_by = vms
            .iter()
            .filter(|vm| uses(vm, &file.name))
            .map(|vm| vm.name.clone())
            .collect();
    }
    files
}

impl VmService {
    /// The ISO library, each ISO with the caller's VMs that have it in their drive.
    pub(super) async fn isos(&self, caller: &Principal) -> Result<Vec<MediaFile>, AppError> {
        let files = self.cx.isos.list().await.map_err(report)?;
        let list = self.list().await?;
        let visible: Vec<&Vm> = list
            .vms
            .iter()
            .filter(|vm| caller.may_see(vm.owner.as_deref()))
            .collect();
        Ok(with_users(files, &visible, |vm, name| {
            vm.current_media.as_deref() == Some(name)
        }))
    }
}

/// Puts the library ISO `iso` in the VM's drive (`None`: ejects), live if the VM runs and in
/// its persistent definition; the record follows what libvirt then says.
pub(super) async fn change_media(
    cx: Context,
    caller: Principal,
    id: VmId,
    iso: Option<String>,
) -> Result<Vm, ServiceError> {
    let row = settled_row(&cx, &caller, id.0).await?;
    let file = match &iso {
        Some(name) => Some(cx.isos.resolve(name).await?),
        None => None,
    };
    let host = cx.hosts.get(&row.host)?.clone();
    host.change_media(id.0, file).await?;
    observed::record_settings(&cx, &host, id.0).await?;
    current(&cx, id.0).await
}
