//! Roles (seed 004): a free-text label on a VM ("web", "db"), read from the same records as the
//! list, so filtering, counting and assigning can never disagree.

use app::auth::Principal;
use app::machine::{role_counts, RoleCount};
use app::types::{Vm, VmId};
use app::validate::validate_label;

use super::records::{current, settled_row};
use super::{refused, ServiceError, VmService};
use crate::context::Context;
use crate::recorded;

/// Sets (or with `None` clears) the VM's role. An empty string clears it too.
pub(super) async fn set_role(
    cx: Context,
    caller: Principal,
    id: VmId,
    role: Option<String>,
) -> Result<Vm, ServiceError> {
    let role = role.filter(|role| !role.is_empty());
    if let Some(role) = &role {
        validate_label("The role", role).map_err(refused)?;
    }
    settled_row(&cx, &caller, id.0).await?;
    recorded::set_role(&cx, id.0, role).await?;
    current(&cx, id.0).await
}

impl VmService {
    /// The caller's VMs, those with `role` only if given.
    pub(super) async fn visible_vms(
        &self,
        caller: &Principal,
        role: Option<&str>,
    ) -> Result<Vec<Vm>, ServiceError> {
        let list = self.list_now().await?;
        Ok(list
            .vms
            .iter()
            .filter(|vm| caller.may_see(vm.owner.as_deref()))
            .filter(|vm| role.is_none() || vm.role.as_deref() == role)
            .cloned()
            .collect())
    }

    pub(super) async fn roles(&self, caller: &Principal) -> Result<Vec<RoleCount>, ServiceError> {
        Ok(role_counts(&self.visible_vms(caller, None).await?))
    }
}
