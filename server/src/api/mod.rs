//! The REST API (`/api/v1`): thin handlers, one file per resource, all routes listed here.

mod errors;
mod events;
mod health;
mod json;
mod media;
mod reconcile;
mod vms;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;

use crate::state::AppState;

pub use errors::{error_for_status, json_error_bodies};
pub use health::{healthz, readyz};

/// Request bodies are small JSON documents.
pub const API_BODY_LIMIT: usize = 64 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/vms", get(vms::list_vms).post(vms::create_vm))
        .route("/vms/{uuid}", get(vms::get_vm).delete(vms::delete_vm))
        .route("/vms/{uuid}/action", post(vms::act_on_vm))
        .route("/events", get(events::events))
        .route("/reconcile", post(reconcile::reconcile))
        .route("/reconcile/adopt", post(reconcile::adopt))
        .route("/reconcile/forget", post(reconcile::forget))
        .route("/isos", get(media::list_isos))
        .route("/images", get(media::list_images))
        .fallback(errors::not_found)
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(API_BODY_LIMIT))
}
