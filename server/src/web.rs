//! The dashboard (Leptos pages and server functions), its static assets, and the per-request
//! layers (request id, one log line per request).

use std::time::Duration;

use app::ports::Ports;
use app::{shell, App};
use axum::body::Body;
use axum::http::{header, HeaderValue, Request, Response};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::state::AppState;

/// Server-function bodies are small JSON documents too.
const RPC_BODY_LIMIT: usize = 256 * 1024;

pub fn dashboard_routes(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let ports = Ports {
        vms: state.vms.clone(),
        accounts: state.accounts.clone(),
    };
    let options = state.leptos_options.clone();
    let site = std::path::Path::new(options.site_root.as_ref()).to_path_buf();
    let pkg_dir = site.join(options.site_pkg_dir.as_ref());
    let context = move || provide_context(ports.clone());
    router
        .leptos_routes_with_context(state, page_routes(), context.clone(), move || {
            shell(options.clone())
        })
        .nest_service("/pkg", assets(pkg_dir))
        // The console and graph pages' glue and libraries (only those pages load them).
        .route_service("/console.js", assets(site.clone()))
        .route_service("/graphs.js", assets(site.clone()))
        .route_service("/graphs.css", assets(site.clone()))
        // The API documentation page's glue and library (only /api/docs loads them).
        .route_service("/api-docs.js", assets(site.clone()))
        .nest_service("/swagger-ui", assets(site.join("swagger-ui")))
        .nest_service("/novnc", assets(site.join("novnc")))
        .nest_service("/xterm", assets(site.join("xterm")))
        .nest_service("/uplot", assets(site.join("uplot")))
        // An unknown page is rendered like any other (same context: the top bar still knows who
        // is logged in) and answers 404 with the app's "page not found".
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(RequestBodyLimitLayer::new(RPC_BODY_LIMIT))
        .layer(axum::middleware::from_fn(rpc_json_only))
}

/// The dashboard's pages, listed once per process. Listing them renders the app with resource
/// loading suspended through a flag of leptos's that is process-wide, not per render: a page
/// rendered by another router meanwhile (tests run several servers in one process) would wait
/// forever on its resources.
fn page_routes() -> Vec<AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Static files of the built site. The build writes .gz/.br beside each asset; those go to
/// browsers that accept them. File names carry no hash, so browsers revalidate (cheap:
/// Last-Modified → 304) and an upgrade never leaves an old file running against new code.
fn assets(
    dir: std::path::PathBuf,
) -> impl tower::Service<
    Request<Body>,
    Response = Response<tower_http::services::fs::ServeFileSystemResponseBody>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
       + Send
       + Sync
       + 'static {
    tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .service(ServeDir::new(dir).precompressed_br().precompressed_gzip())
}

/// Server functions take JSON only. A cross-site HTML form can send `text/plain` whose body
/// happens to be valid JSON, but never `application/json` (that needs a CORS preflight), so
/// this refuses forged calls exactly as REST does (SPEC §10: 415).
async fn rpc_json_only(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let is_rpc = request.uri().path().starts_with("/rpc/");
    let is_json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if is_rpc && !is_json {
        return crate::error::ApiError(crate::api::error_for_status(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ))
        .into_response();
    }
    next.run(request).await
}

/// Request id (taken from `x-request-id` or made), echoed in the response and in the log line;
/// gzip for dynamic responses (pages, JSON). Assets already carry their own encoding and are left
/// alone, as are event streams (tower-http's default predicate).
pub fn request_layers(router: Router) -> Router {
    router
        .layer(CompressionLayer::new().gzip(true))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", id, method = %request.method(), path = %request.uri().path())
                })
                .on_request(())
                .on_response(|response: &Response<Body>, latency: Duration, _span: &Span| {
                    tracing::info!(status = response.status().as_u16(), ms = latency.as_secs_f64() * 1000.0, "served");
                }),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
