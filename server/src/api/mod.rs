//! The REST API (`/api/v1`): thin handlers, one file per resource, all routes listed here.

mod audit;
mod auth;
mod console;
mod encoding;
mod errors;
mod events;
mod health;
mod json;
mod media;
mod reconcile;
mod tokens;
mod users;
mod vms;

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

    fn add<H, T>(mut self, method: Method, path: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a method axum can route");
        self.router = self.router.route(path, on(filter, handler));
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
        .add(M::GET, "/vms", vms::list_vms)
        .add(M::POST, "/vms", vms::create_vm)
        .add(M::GET, "/vms/{uuid}", vms::get_vm)
        .add(M::DELETE, "/vms/{uuid}", vms::delete_vm)
        .add(M::POST, "/vms/{uuid}/action", vms::act_on_vm)
        .add(M::GET, "/vms/{uuid}/console", console::vnc)
        .add(M::GET, "/vms/{uuid}/serial", console::serial)
        .add(M::POST, "/vms/{uuid}/console/ticket", console::ticket)
        .add(M::GET, "/events", events::events)
        .add(M::POST, "/reconcile", reconcile::reconcile)
        .add(M::POST, "/reconcile/adopt", reconcile::adopt)
        .add(M::POST, "/reconcile/forget", reconcile::forget)
        .add(M::GET, "/isos", media::list_isos)
        .add(M::GET, "/images", media::list_images)
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
            .layer(axum::Extension(Arc::new(encoding::GzipCache::default())))
            .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
            .layer(RequestBodyLimitLayer::new(API_BODY_LIMIT)),
        list: api.list,
    }
}
