//! Reconcile, adopt and forget (SPEC §6): admins only.

use std::sync::Arc;

use app::auth::Principal;
use app::error::AppError;
use app::report::{AdoptRequest, ReconcileReport};
use app::types::{Vm, VmId};

use super::{refused, ServiceError};
use crate::context::Context;
use crate::host::Host;
use crate::ops::Sagas;
use crate::reconcile::{self, Mode};

pub(super) fn require_admin(caller: &Principal) -> Result<(), AppError> {
    if caller.is_admin() {
        Ok(())
    } else {
        Err(AppError::admin_only())
    }
}

pub(super) async fn reconcile(
    sagas: Sagas,
    caller: Principal,
) -> Result<ReconcileReport, ServiceError> {
    require_admin(&caller).map_err(refused)?;
    Ok(reconcile::reconcile(&sagas, Mode::Repair).await?)
}

/// The host that has the domain `id` (ghosts are found on every host), else the local one.
async fn host_with_domain(cx: &Context, id: VmId) -> Arc<Host> {
    for host in cx.hosts.all() {
        if let Ok(view) = host.domains().await {
            if view.domains.contains_key(&id.0) {
                return host;
            }
        }
    }
    cx.hosts.local()
}

/// An admin's adopt: the named owner (else the admin) must be a user.
pub(super) async fn adopt(
    cx: Context,
    caller: Principal,
    mut request: AdoptRequest,
) -> Result<Vm, ServiceError> {
    require_admin(&caller).map_err(refused)?;
    let owner = request
        .owner
        .get_or_insert_with(|| caller.username.clone())
        .clone();
    let lookup = owner.clone();
    let exists = cx
        .db
        .run(move |conn| crate::db::users::user_fetch(conn, &lookup))
        .await?
        .is_some();
    if !exists {
        return Err(refused(AppError::validation(format!(
            "There is no user named \"{owner}\" to own the VM."
        ))));
    }
    let host = host_with_domain(&cx, request.uuid).await;
    Ok(reconcile::adopt::adopt(&cx, &host, request).await?)
}

/// Removes a missing VM's record and nothing else (its disk, if any, becomes an orphan).
pub(super) async fn forget(cx: Context, caller: Principal, id: VmId) -> Result<(), ServiceError> {
    require_admin(&caller).map_err(refused)?;
    Ok(reconcile::forget::forget(&cx, id).await?)
}
