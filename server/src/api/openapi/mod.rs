//! The API's OpenAPI 3.1 description, generated from the code: each handler's
//! `#[utoipa::path]` (next to the handler), the wire types' schemas (derived from the same
//! types the handlers serialize), the security schemes, and one error response per status
//! built from the codes each route declares (`errors.rs`). Served at
//! `GET /api/v1/openapi.json`, browsable at `/api/docs`, printed by `limen openapi`; the tests
//! prove it lists exactly the routes the router serves and that every response of the
//! integration tests matches it.

mod docs;
mod errors;
mod security;

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::OpenApi;

pub use docs::docs_page;
use errors::ErrorResponses;
use security::SecuritySchemes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Limen",
        // The API's version (its path's /v1), not the release: that is for logged-in callers
        // (`GET /api/v1/version`).
        version = "1",
        description = "The REST API of Limen, a web dashboard for the virtual machines of a \
            libvirt/QEMU host. Every route answers JSON; a refusal is `{error, code}`: `error` \
            is a sentence for a person, `code` is stable and for scripts. Log in with \
            `POST /api/v1/auth/login` (a session cookie for browsers, a token for scripts) or \
            send an API token as `Authorization: Bearer …` (tokens are made on the dashboard's \
            Tokens page or with `POST /api/v1/tokens`).",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    paths(
        super::auth::login,
        super::auth::logout,
        super::auth::setup,
        super::auth::me,
        super::auth::set_language,
        super::version::version,
        openapi_json,
        super::vms::list_vms,
        super::vms::create_vm,
        super::vms::get_vm,
        super::vms::delete_vm,
        super::vms::act_on_vm,
        super::console::vnc,
        super::console::serial,
        super::console::ticket,
        super::machine::attach_media,
        super::machine::detach_media,
        super::machine::boot_order,
        super::machine::set_boot_order,
        super::machine::installation,
        super::machine::complete_installation,
        super::machine::disk,
        super::machine::resize_disk,
        super::machine::set_role,
        super::machine::roles,
        super::snapshots::list,
        super::snapshots::create,
        super::snapshots::revert,
        super::snapshots::delete,
        super::stats::vm_stats,
        super::stats::vm_live,
        super::stats::host_stats,
        super::stats::host_live,
        super::hosts::list_hosts,
        super::hosts::add_host,
        super::hosts::update_host,
        super::hosts::remove_host,
        super::hosts::migrate_vm,
        super::events::events,
        super::reconcile::reconcile,
        super::reconcile::adopt,
        super::reconcile::forget,
        super::media::list_isos,
        super::media::upload_iso,
        super::media::delete_iso,
        super::media::list_images,
        super::media::create_image,
        super::media::delete_image,
        super::media::operations,
        super::media::cancel_operation,
        super::users::quota,
        super::tokens::list_tokens,
        super::tokens::create_token,
        super::tokens::revoke_token,
        super::users::list_users,
        super::users::create_user,
        super::users::update_user,
        super::users::delete_user,
        super::audit::audit,
    ),
    components(schemas(app::error::AppError, app::error::ErrorCode)),
    security(("session" = []), ("bearer" = [])),
    modifiers(&SecuritySchemes, &ErrorResponses),
    tags(
        (name = "auth", description = "Logging in and out, the current user, the first admin."),
        (name = "vms", description = "Virtual machines: list, create, inspect, act, delete."),
        (name = "consoles", description = "The graphical (VNC) and serial consoles, as WebSockets."),
        (name = "machine", description = "Install media, boot order, installation, disk, roles."),
        (name = "snapshots", description = "A VM's snapshots."),
        (name = "stats", description = "Resource graphs: history and live samples."),
        (name = "hosts", description = "The libvirt hosts Limen manages."),
        (name = "events", description = "The live event stream (Server-Sent Events)."),
        (name = "reconcile", description = "Comparing libvirt, the database and the disks (admin)."),
        (name = "media", description = "The ISO and base image libraries."),
        (name = "operations", description = "Long operations in progress (image builds, snapshots)."),
        (name = "users", description = "Users, roles and quotas."),
        (name = "tokens", description = "API tokens for scripts."),
        (name = "audit", description = "The audit log."),
        (name = "meta", description = "The server's version and this description."),
    ),
)]
struct ApiDoc;

/// The description as a document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The description as pretty-printed JSON (what `limen openapi` prints and the route serves).
pub fn document_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        document()
            .to_pretty_json()
            .expect("the description serializes")
    })
}

/// This description (no login needed).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "getOpenApi",
    tag = "meta",
    summary = "This API's OpenAPI 3.1 description",
    description = "Generated from the code Limen runs; the same document `limen openapi` prints.",
    security(()),
    responses((status = 200, description = "The OpenAPI document.", content_type = "application/json")),
)]
pub async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document_json(),
    )
}
