//! Limen's server: configuration, REST API, dashboard rendering, libvirt and database layers.
//! `router` is what `main` serves and what the integration tests mount.

pub mod access;
pub mod api;
pub mod audit;
pub mod auth;
pub mod background;
pub mod backup;
pub mod cli;
pub mod config;
pub mod console;
pub mod context;
pub mod db;
pub mod doctor;
pub mod error;
pub mod host;
mod keyed_locks;
pub mod live;
pub mod metrics;
pub mod observed;
pub mod ops;
pub mod reconcile;
pub mod recorded;
pub mod service;
pub mod state;
pub mod stats;
pub mod tls;
pub mod web;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use leptos::config::LeptosOptions;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::audit::AuditLog;
use crate::auth::{AccountService, SessionSettings};
use crate::config::Config;
use crate::context::Context;
use crate::db::Db;
use crate::host::disk::DiskStore;
use crate::host::library::Library;
use crate::host::{Host, HostKey, Hosts};
use crate::live::EventBus;
use crate::ops::{Failpoints, Sagas};
use crate::service::{ServiceSettings, VmService};
use crate::state::AppState;

/// How many events a stream may fall behind before it gets a snapshot instead.
const EVENT_BUFFER: usize = 1024;

/// Builds the application state from a configuration; the database must already be migrated.
/// Nothing is started and nothing is connected yet: `limen serve` starts the background work
/// (`background::start`), a command-line run uses the state as it is. Cancelling
/// `state.shutdown` stops the background work and ends every event stream.
pub fn build_state(config: &Config, db: Db) -> Result<AppState, String> {
    let local = Host::new(
        HostKey::local(),
        config.libvirt_uri.clone(),
        config.domain_type,
    );
    let hosts = Hosts::with_ssh_keyfile([local], config.ssh_keyfile.clone());
    let disks = DiskStore::open(&config.data_dir).map_err(|e| error::chain(&e))?;
    let failpoints = match &config.failpoint {
        Some(spec) => Failpoints::parse(spec).map_err(|e| format!("LIMEN_FAILPOINT: {e}"))?,
        None => Failpoints::none(),
    };
    let library = |open: fn(&std::path::Path) -> std::io::Result<Library>, what: &str| {
        open(&config.data_dir).map_err(|e| format!("cannot open the {what} library: {e}"))
    };
    let cx = Context {
        db: db.clone(),
        hosts: hosts.clone(),
        disks,
        isos: library(Library::isos, "ISO")?,
        images: library(Library::images, "base-image")?,
        bus: Arc::new(EventBus::new(EVENT_BUFFER)),
        stats: Arc::new(stats::Stats::new(config.stats_secs)),
        tasks: TaskTracker::new(),
    };
    let bus = Arc::clone(&cx.bus);
    let tasks = cx.tasks.clone();
    let audit = AuditLog::new(db.clone());
    let vms = Arc::new(VmService::new(
        Sagas::new(cx, failpoints),
        audit.clone(),
        ServiceSettings {
            console_autostart: config.console_autostart,
            iso_upload_max_bytes: config.iso_upload_max_mb.saturating_mul(1 << 20),
            image_copy_bytes_per_s: (config.image_copy_mb_per_s > 0)
                .then(|| config.image_copy_mb_per_s.saturating_mul(1 << 20)),
            max_snapshots_per_vm: config.max_snapshots_per_vm,
        },
    ));
    let accounts = Arc::new(AccountService::new(
        db.clone(),
        audit,
        SessionSettings {
            lifetime: chrono::TimeDelta::hours(config.session_hours.into()),
            secure_cookie: config.cookies_secure(),
        },
    ));
    let leptos_options = LeptosOptions::builder()
        .output_name("limen")
        .site_root(config.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build();
    Ok(AppState {
        leptos_options,
        db,
        hosts,
        vms,
        accounts,
        site: Arc::new(auth::middleware::Site {
            public_origin: config.public_url.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
        }),
        bus,
        metrics_token: config.metrics_token.as_deref().map(Arc::from),
        readiness: Arc::new(doctor::ReadinessConfig::new(
            config.data_dir.clone(),
            config.libvirt_uri.clone(),
        )),
        shutdown: CancellationToken::new(),
        tasks,
    })
}

/// Writes the local host's row (with the configured URI) and puts every host of the `hosts`
/// table into the registry; nothing is connected yet. Every process that works on VMs calls
/// it once its state is built (`limen restore` after loading the archive).
pub async fn load_hosts(state: &AppState, config: &Config) -> Result<(), String> {
    state
        .vms
        .load_hosts(Some(config.libvirt_uri.clone()))
        .await
        .map_err(|e| format!("cannot read the hosts: {}", error::chain(&e)))
}

/// Every route Limen serves, with the layers every request passes: request id and log line,
/// JSON error bodies for the API, the cross-site check, authentication, and the login page for
/// anonymous visitors of pages.
pub fn router(state: AppState) -> Router {
    let auth_layer = auth::middleware::AuthLayerState {
        accounts: Arc::clone(&state.accounts),
        site: Arc::clone(&state.site),
    };
    let site = Arc::clone(&state.site);
    // Under /api/ every path answers JSON: an unknown one is a 404 `{error, code}`, never a page.
    let api = Router::new()
        .nest("/v1", api::routes().router)
        .route("/docs", get(api::docs_page))
        .fallback(api::not_found);
    // The API limits request bodies per route (an upload streams its own); the dashboard's
    // limit is for its pages and server functions.
    let with_dashboard = web::dashboard_routes(
        Router::new()
            .route("/healthz", get(api::healthz))
            .route("/readyz", get(api::readyz))
            .route("/metrics", get(api::metrics)),
        &state,
    )
    .nest("/api", api);
    let router = with_dashboard
        .with_state(state)
        .layer(axum::middleware::from_fn(
            auth::middleware::pages_need_login,
        ))
        .layer(axum::middleware::from_fn_with_state(
            auth_layer,
            auth::middleware::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            site,
            auth::middleware::refuse_cross_site,
        ))
        .layer(axum::middleware::from_fn(api::json_error_bodies))
        .layer(axum::middleware::from_fn(api::count_requests));
    web::request_layers(router)
}

/// Every route the router serves that a caller can reach with data (REST and server functions),
/// as (method, path): what the authorization matrix test enumerates.
pub fn route_list() -> Vec<(String, String)> {
    let mut routes: Vec<(String, String)> = api::routes()
        .list
        .into_iter()
        .map(|(method, path)| (method.to_string(), format!("/api/v1{path}")))
        .collect();
    routes.push(("GET".to_string(), "/metrics".to_string()));
    routes.extend(
        leptos::server_fn::axum::server_fn_paths()
            .map(|(path, method)| (method.to_string(), path.to_string())),
    );
    routes.sort();
    routes
}
