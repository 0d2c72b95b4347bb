use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::db::Db;
use crate::host::Host;
use crate::service::VmService;

/// What every handler can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub host: Arc<Host>,
    pub vms: Arc<VmService>,
}
