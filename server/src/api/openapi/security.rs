//! How a caller proves who they are, as the description names it. Each operation lists the
//! schemes it takes (the document's default: the session cookie or a Bearer token; public
//! routes: none; the console WebSockets: also a one-time ticket).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi;
use utoipa::Modify;

use crate::auth::SESSION_COOKIE;

pub struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                SESSION_COOKIE,
                "The session a login sets (HttpOnly, SameSite=Strict): what browsers send.",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token (`POST /api/v1/tokens`) or the token a login returns.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "console_ticket",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::with_description(
                "ticket",
                "A one-time ticket from `POST /api/v1/vms/{uuid}/console/ticket`, for a \
                 WebSocket client that cannot send a cookie or a header; valid once, briefly.",
            ))),
        );
    }
}
