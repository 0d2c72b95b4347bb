//! Resource statistics as a caller may see them: a VM's graphs to whoever may see the VM
//! (another user's VM is "not found"), the host's graphs and capacity to admins, and the
//! Prometheus text to admins and the scrape token (decided at the edge).

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use app::auth::Principal;
use app::error::{AppError, ErrorCode};
use app::stats::{HostCapacity, HostStats, StatsRange, VmStats};
use app::types::VmId;
use chrono::Utc;
use futures::Stream;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use super::reconciliation::require_admin;
use super::records::visible_row;
use super::VmService;
use crate::error::report;
use crate::host::node::filesystem_space;
use crate::host::HostKey;
use crate::live::stats_stream::{points, Series};
use crate::stats::exported::Exported;
use crate::stats::managed_on;
use crate::stats::sampler::{capacity, Sampler};

impl VmService {
    /// A VM's points over `range`.
    pub async fn vm_stats(
        &self,
        caller: &Principal,
        id: VmId,
        range: StatsRange,
    ) -> Result<VmStats, AppError> {
        visible_row(&self.cx, caller, id.0).await.map_err(report)?;
        let (timing, points) = self
            .cx
            .stats
            .vm_points(&self.cx.db, id.0, range, Utc::now())
            .await
            .map_err(report)?;
        Ok(VmStats {
            range,
            step_secs: timing.step_secs,
            stored_until: timing.stored_until,
            points,
        })
    }

    /// The VM's points from now on, one per round while it runs (its page's live graph), for
    /// a caller who may see it; until `shutdown`.
    pub async fn vm_stats_live(
        &self,
        caller: &Principal,
        id: VmId,
        shutdown: CancellationToken,
    ) -> Result<impl Stream<Item = String> + Send + 'static, AppError> {
        // Subscribed first: no round falls between the check and the stream.
        let rounds = self.cx.stats.subscribe();
        visible_row(&self.cx, caller, id.0).await.map_err(report)?;
        Ok(points(rounds, Series::Vm(id.0), shutdown))
    }

    /// The host's points over `range` and its capacity now (admins).
    pub async fn host_stats(
        &self,
        caller: &Principal,
        range: StatsRange,
    ) -> Result<HostStats, AppError> {
        require_admin(caller)?;
        let host = HostKey::LOCAL;
        let (timing, points) = self
            .cx
            .stats
            .host_points(&self.cx.db, host, range, Utc::now())
            .await
            .map_err(report)?;
        // The history is there even while libvirt is not: the capacity is then unknown.
        let capacity = self.capacity_now().await.ok();
        Ok(HostStats {
            range,
            step_secs: timing.step_secs,
            stored_until: timing.stored_until,
            points,
            capacity,
        })
    }

    /// The host's points from now on, one per round (the host page's live graphs; admins).
    pub fn host_stats_live(
        &self,
        caller: &Principal,
        shutdown: CancellationToken,
    ) -> Result<impl Stream<Item = String> + Send + 'static, AppError> {
        require_admin(caller)?;
        let rounds = self.cx.stats.subscribe();
        let host = Series::Host(HostKey::LOCAL.to_string());
        Ok(points(rounds, host, shutdown))
    }

    /// The host's capacity read now (not from the last round: it is right even with the
    /// collector off, and right after a VM was created).
    async fn capacity_now(&self) -> Result<HostCapacity, AppError> {
        let host = self.cx.hosts.local();
        let counters = host.domain_counters().await.map_err(report)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let node = host.node_counters().await.map_err(report)?;
        let key = host.key().as_str().to_string();
        let managed = managed_on(&self.cx.db, &key).await.map_err(report)?;
        let space = filesystem_space(self.cx.disks.dir());
        let round = Sampler::default().round(&key, now, counters, Some(node), space, managed);
        capacity(&round).ok_or_else(|| {
            AppError::new(
                ErrorCode::HypervisorUnavailable,
                "The host's CPUs and memory could not be read.",
            )
        })
    }

    /// The Prometheus text of `GET /metrics`: Limen's own counters, the VMs by state, and the
    /// latest round's VM and host series. For an admin, or a scraper that presented the scrape
    /// token (`scraper`, checked at the edge, where the request's headers are).
    pub async fn metrics_text(
        &self,
        caller: Option<&Principal>,
        scraper: bool,
    ) -> Result<String, AppError> {
        match caller {
            _ if scraper => {}
            Some(caller) => require_admin(caller)?,
            None => return Err(AppError::unauthorized()),
        }
        let list = self.list().await?;
        let mut by_state = std::collections::BTreeMap::<String, i64>::new();
        for vm in list.vms.iter() {
            *by_state.entry(vm.status.as_str().to_string()).or_default() += 1;
        }
        let mut registry = Registry::default();
        crate::metrics::register(registry.sub_registry_with_prefix("limen"));
        registry.register_collector(Box::new(Exported {
            rounds: self.cx.stats.latest_all(),
            vms_by_state: by_state.into_iter().collect(),
        }));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .map_err(|_| AppError::new(ErrorCode::Internal, "The metrics could not be written."))?;
        Ok(text)
    }
}

impl VmService {
    /// The cards' gauges, changed with every statistics round (the event stream's
    /// `vm_gauges`).
    pub fn gauges(&self) -> tokio::sync::watch::Receiver<Arc<crate::stats::Gauges>> {
        self.cx.stats.gauges()
    }
}
