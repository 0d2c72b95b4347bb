use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::AccountService;
use crate::db::Db;
use crate::host::Hosts;
use crate::live::EventBus;
use crate::service::VmService;

/// What every handler can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub hosts: Hosts,
    pub vms: Arc<VmService>,
    pub accounts: Arc<AccountService>,
    /// Where Limen is served (public origin, trusted proxies), for the HTTP layers.
    pub site: Arc<crate::auth::middleware::Site>,
    pub bus: Arc<EventBus>,
    /// The token Prometheus may scrape `/metrics` with (`LIMEN_METRICS_TOKEN`).
    pub metrics_token: Option<Arc<str>>,
    /// What `/readyz` checks besides the connections (the data dir).
    pub readiness: Arc<crate::doctor::ReadinessConfig>,
    /// Cancelled when the server shuts down: event streams end, background tasks stop.
    pub shutdown: CancellationToken,
    /// Detached work (operations, the monitors, the reconciler): awaited after `shutdown`
    /// before exit.
    pub tasks: TaskTracker,
}
