//! `GET /metrics`: Prometheus text (SPEC §12), for an admin (session or API token) or for a
//! scraper presenting `LIMEN_METRICS_TOKEN` as a bearer token; and the layer that counts every
//! HTTP request by its route pattern and status.

use std::sync::Arc;
use std::time::Instant;

use app::auth::Principal;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiResult;
use crate::service::VmService;
use crate::state::AppState;

/// OpenMetrics, which Prometheus reads (and prefers).
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

pub async fn metrics(
    State(state): State<AppState>,
    principal: Option<axum::Extension<Principal>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let scraper = state
        .metrics_token
        .as_deref()
        .is_some_and(|token| presents(&headers, token));
    let caller = principal.map(|axum::Extension(principal)| principal);
    let vms: &Arc<VmService> = &state.vms;
    let text = vms.metrics_text(caller.as_ref(), scraper).await?;
    Ok((
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        text,
    )
        .into_response())
}

/// Whether the bearer token is `token` (compared through their digests, in constant time).
fn presents(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
    else {
        return false;
    };
    let (a, b) = (
        Sha256::digest(given.as_bytes()),
        Sha256::digest(token.as_bytes()),
    );
    a.iter()
        .zip(b.iter())
        .fold(0u8, |diff, (x, y)| diff | (x ^ y))
        == 0
}

/// Counts every request by method, route pattern (never the raw path: ids would make a
/// series per VM) and status, with its duration.
pub async fn count_requests(request: Request, next: Next) -> Response {
    let started = Instant::now();
    // Any method name a client makes up would be a new series: the standard ones, or "other".
    let method = match *request.method() {
        Method::GET
        | Method::HEAD
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::OPTIONS => request.method().as_str(),
        _ => "other",
    }
    .to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |path| path.as_str().to_string());
    let response = next.run(request).await;
    crate::metrics::http_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
