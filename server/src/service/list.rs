//! Every VM: records merged with each host's live view, computed once per change (the REST
//! list, the server function and every stream's snapshot share it).

use std::collections::HashMap;

use app::error::AppError;
use futures::future::join_all;

use super::{ServiceError, VmService};
use crate::db::vms as q;
use crate::error::report;
use crate::host::{HostKey, LiveState, Snapshot};
use crate::live::list_cache::CachedList;

impl VmService {
    /// The whole list (callers filter it for their viewer).
    pub async fn list(&self) -> Result<CachedList, AppError> {
        self.list_now().await.map_err(report)
    }

    pub(super) async fn list_now(&self) -> Result<CachedList, ServiceError> {
        let version = self.cx.bus.last_id();
        if let Some(list) = self.list_cache.get(version) {
            return Ok(list);
        }
        // A host that cannot answer leaves its VMs `unknown`; the others are listed as ever.
        let hosts = self.cx.hosts.all().into_iter().map(|host| async move {
            let view = host.domains().await.ok()?;
            Some((host.key().clone(), view))
        });
        let (rows, views) = tokio::join!(self.cx.db.run(q::vm_list), join_all(hosts));
        let views: HashMap<HostKey, Snapshot> = views.into_iter().flatten().collect();
        let vms = rows?
            .into_iter()
            .map(|row| {
                let live = views
                    .get(row.host.as_str())
                    .map_or(LiveState::Unknown, |view| view.state_of(row.uuid));
                row.into_vm(live)
            })
            .collect();
        let list = CachedList::new(version, vms);
        // Kept only if nothing was published meanwhile (it might not be in it).
        if self.cx.bus.last_id() == version {
            self.list_cache.put(list.clone());
        }
        Ok(list)
    }
}
