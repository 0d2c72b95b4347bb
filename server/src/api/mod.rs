//! The REST API (`/api/v1`): thin handlers, one file per resource, all routes listed here.
//! Request bodies are small JSON documents, limited per route; an upload streams its own.

mod audit;
mod auth;
mod console;
mod encoding;
mod errors;
mod events;
mod health;
mod hosts;
mod json;
mod machine;
mod media;
mod metrics;
pub mod openapi;
mod reconcile;
mod snapshots;
mod stats;
mod tokens;
mod users;
mod version;
mod vms;

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;

use crate::state::AppState;

pub use errors::{error_for_status, json_error_bodies, not_found};
pub use health::{healthz, readyz};
pub use metrics::{count_requests, metrics};
pub use openapi::docs_page;

/// Request bodies are small JSON documents.
pub const API_BODY_LIMIT: usize = 64 * 1024;

/// The API's router and the list of what it serves, built together so the list cannot miss a
/// route (the authorization matrix test walks it).
pub struct ApiRoutes {
    pub router: Router<AppState>,
    pub list: Vec<(Method, &'static str)>,
}

impl ApiRoutes {
    fn new() -> Self {
        Self {
            router: Router::new(),
            list: Vec::new(),
        }
    }

    /// A route whose request body is a small JSON document (or nothing).
    fn add<H, T>(self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
        let route = on(filter, handler)
            .layer::<_, Infallible>(DefaultBodyLimit::max(API_BODY_LIMIT))
            .layer::<_, Infallible>(RequestBodyLimitLayer::new(API_BODY_LIMIT));
        self.push(method, path, route)
    }

    /// A WebSocket route: `GET` + `Upgrade` over HTTP/1.1, or an extended `CONNECT` over
    /// HTTP/2 (RFC 8441), which browsers use once an HTTPS connection speaks HTTP/2. Listed as
    /// the `GET` it is to callers.
    fn add_websocket<H, T>(self, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let route = on(MethodFilter::GET.or(MethodFilter::CONNECT), handler)
            .layer::<_, Infallible>(DefaultBodyLimit::max(API_BODY_LIMIT));
        self.push(Method::GET, path, route)
    }

    /// A route whose handler streams its body and enforces its own limit (an upload).
    fn add_streamed<H, T>(self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
        let route = on(filter, handler).layer::<_, Infallible>(DefaultBodyLimit::disable());
        self.push(method, path, route)
    }

    fn push(
        mut self,
        method: Method,
        path: &'static str,
        route: axum::routing::MethodRouter<AppState>,
    ) -> Self {
        self.router = self.router.route(path, route);
        self.list.push((method, path));
        self
    }
}

pub fn routes() -> ApiRoutes {
    use Method as M;
    let api = ApiRoutes::new()
        .add(M::POST, "/auth/login", auth::login)
        .add(M::POST, "/auth/logout", auth::logout)
        .add(M::POST, "/auth/setup", auth::setup)
        .add(M::GET, "/me", auth::me)
        .add(M::PUT, "/me/language", auth::set_language)
        .add(M::GET, "/version", version::version)
        .add(M::GET, "/openapi.json", openapi::openapi_json)
        .add(M::GET, "/vms", vms::list_vms)
        .add(M::POST, "/vms", vms::create_vm)
        .add(M::GET, "/vms/{uuid}", vms::get_vm)
        .add(M::DELETE, "/vms/{uuid}", vms::delete_vm)
        .add(M::POST, "/vms/{uuid}/action", vms::act_on_vm)
        .add(M::POST, "/vms/{uuid}/migrate", hosts::migrate_vm)
        .add_websocket("/vms/{uuid}/console", console::vnc)
        .add_websocket("/vms/{uuid}/serial", console::serial)
        .add(M::POST, "/vms/{uuid}/console/ticket", console::ticket)
        .add(M::POST, "/vms/{uuid}/media/attach", machine::attach_media)
        .add(M::POST, "/vms/{uuid}/media/detach", machine::detach_media)
        .add(M::GET, "/vms/{uuid}/boot-order", machine::boot_order)
        .add(M::POST, "/vms/{uuid}/boot-order", machine::set_boot_order)
        .add(
            M::GET,
            "/vms/{uuid}/installation-status",
            machine::installation,
        )
        .add(
            M::POST,
            "/vms/{uuid}/complete-installation",
            machine::complete_installation,
        )
        .add(M::GET, "/vms/{uuid}/disk", machine::disk)
        .add(M::POST, "/vms/{uuid}/disk/resize", machine::resize_disk)
        .add(M::GET, "/vms/{uuid}/snapshots", snapshots::list)
        .add(M::POST, "/vms/{uuid}/snapshots", snapshots::create)
        .add(
            M::POST,
            "/vms/{uuid}/snapshots/{name}/revert",
            snapshots::revert,
        )
        .add(M::DELETE, "/vms/{uuid}/snapshots/{name}", snapshots::delete)
        .add(M::GET, "/vms/{uuid}/stats", stats::vm_stats)
        .add(M::GET, "/vms/{uuid}/stats/live", stats::vm_live)
        .add(M::GET, "/host/stats", stats::host_stats)
        .add(M::GET, "/host/stats/live", stats::host_live)
        .add(M::GET, "/hosts", hosts::list_hosts)
        .add(M::POST, "/hosts", hosts::add_host)
        .add(M::PATCH, "/hosts/{key}", hosts::update_host)
        .add(M::DELETE, "/hosts/{key}", hosts::remove_host)
        .add(M::PUT, "/vms/{uuid}/role", machine::set_role)
        .add(M::GET, "/roles", machine::roles)
        .add(M::GET, "/events", events::events)
        .add(M::POST, "/reconcile", reconcile::reconcile)
        .add(M::POST, "/reconcile/adopt", reconcile::adopt)
        .add(M::POST, "/reconcile/forget", reconcile::forget)
        .add(M::GET, "/isos", media::list_isos)
        .add_streamed(M::POST, "/isos", media::upload_iso)
        .add(M::DELETE, "/isos/{name}", media::delete_iso)
        .add(M::GET, "/images", media::list_images)
        .add(M::POST, "/images", media::create_image)
        .add(M::DELETE, "/images/{name}", media::delete_image)
        .add(M::GET, "/operations", media::operations)
        .add(M::POST, "/operations/{id}/cancel", media::cancel_operation)
        .add(M::GET, "/quota", users::quota)
        .add(M::GET, "/tokens", tokens::list_tokens)
        .add(M::POST, "/tokens", tokens::create_token)
        .add(M::DELETE, "/tokens/{id}", tokens::revoke_token)
        .add(M::GET, "/users", users::list_users)
        .add(M::POST, "/users", users::create_user)
        .add(M::PATCH, "/users/{username}", users::update_user)
        .add(M::DELETE, "/users/{username}", users::delete_user)
        .add(M::GET, "/audit", audit::audit);
    ApiRoutes {
        router: api
            .router
            .fallback(errors::not_found)
            .layer(axum::Extension(Arc::new(encoding::GzipCache::default()))),
        list: api.list,
    }
}
