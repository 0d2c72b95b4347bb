//! Who a request is from, and which requests are refused before any handler runs.
//!
//! - `authenticate`: a `Bearer` token or the session cookie becomes a [`Principal`] in the
//!   request's extensions (REST handlers, server functions and pages all read it there).
//! - `refuse_cross_site`: a state-changing request that another site's page sent is refused
//!   (with the SameSite cookie, the second lock on the door for server functions and REST).
//! - `pages_need_login`: a page for an anonymous visitor redirects to the login page.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use app::auth::Principal;
use app::error::AppError;
use app::ports::ClientAddress;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::{AccountService, SESSION_COOKIE};
use crate::error::ApiError;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    app::headers::cookie(headers, SESSION_COOKIE)
}

/// What the HTTP layer needs to know about where Limen is served.
#[derive(Debug, Clone, Default)]
pub struct Site {
    /// The origin browsers see (`LIMEN_PUBLIC_URL`, e.g. behind a reverse proxy); without it,
    /// the request's own host is the origin.
    pub public_origin: Option<String>,
    /// Proxies whose `X-Forwarded-For` names the client (`LIMEN_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<IpAddr>,
}

#[derive(Clone)]
pub struct AuthLayerState {
    pub accounts: Arc<AccountService>,
    pub site: Arc<Site>,
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the last address
/// that proxy put in `X-Forwarded-For`.
fn client_address(request: &Request, site: &Site) -> Option<IpAddr> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())?;
    if !site.trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    // Only the last entry is the proxy's own word; earlier ones are whatever the client sent.
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back()
        .and_then(|last| last.trim().parse::<IpAddr>().ok());
    Some(forwarded.unwrap_or(peer))
}

pub async fn authenticate(
    State(layer): State<AuthLayerState>,
    mut request: Request,
    next: Next,
) -> Response {
    let accounts = &layer.accounts;
    let address = client_address(&request, &layer.site);
    request.extensions_mut().insert(ClientAddress(address));
    let headers = request.headers();
    // A bearer token wins over a cookie; an invalid one leaves the request anonymous (and so
    // refused wherever a caller is needed), it never falls back to the cookie.
    let secret = bearer(headers)
        .or_else(|| session_cookie(headers))
        .map(str::to_string);
    let mut renewed_cookie = None;
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        match accounts.resolve(&secret, address).await {
            Ok(Some(resolved)) => {
                request.extensions_mut().insert(resolved.principal);
                renewed_cookie = resolved.renewed_cookie;
            }
            Ok(None) => {}
            Err(error) => return ApiError(error).into_response(),
        }
    }
    let mut response = next.run(request).await;
    // A response that sets the cookie itself (a logout clearing it, a new login) wins.
    let sets_cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|value| value.as_bytes().starts_with(SESSION_COOKIE.as_bytes()));
    if let Some(cookie) = renewed_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        if !sets_cookie {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }
    response
}

/// Whether a browser sent this request from another site's page. No `Origin` (curl, scripts,
/// same-origin GETs) is not cross-site; a browser always sends one on a cross-site POST. The
/// `Origin` must be the public origin if one is configured, else the host the request was
/// sent to (the `Host` header, or the URI's authority under HTTP/2).
fn is_cross_site(headers: &HeaderMap, authority: Option<&str>, site: &Site) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|fetch_site| fetch_site.as_bytes() == b"cross-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let Ok(origin) = origin.to_str() else {
        return true;
    };
    let origin = origin.trim_end_matches('/');
    if let Some(public) = &site.public_origin {
        return !origin.eq_ignore_ascii_case(public.trim_end_matches('/'));
    }
    let origin_host = origin.split_once("://").map(|(_, host)| host);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or(authority);
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => !origin_host.eq_ignore_ascii_case(host),
        _ => true,
    }
}

/// Whether a request carries `Origin` and it is Limen's own: what a WebSocket authenticated by
/// the session cookie must show (a browser always sends `Origin` on a WebSocket handshake, and
/// the handshake is a GET, which `refuse_cross_site` lets through).
pub fn from_own_origin(headers: &HeaderMap, authority: Option<&str>, site: &Site) -> bool {
    headers.contains_key(header::ORIGIN) && !is_cross_site(headers, authority, site)
}

/// Whether the request's credential came in the session cookie (no `Authorization` header).
pub fn by_cookie(headers: &HeaderMap) -> bool {
    bearer(headers).is_none() && session_cookie(headers).is_some()
}

pub async fn refuse_cross_site(
    State(site): State<Arc<Site>>,
    request: Request,
    next: Next,
) -> Response {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let authority = request.uri().authority().map(|a| a.as_str());
    if !safe && is_cross_site(request.headers(), authority, &site) {
        tracing::warn!(path = %request.uri().path(), "cross-site request refused");
        return ApiError(AppError::forbidden(
            "Requests from another site are refused.",
        ))
        .into_response();
    }
    next.run(request).await
}

/// Paths that are not pages: they answer for themselves (401 as JSON, assets, probes).
fn is_page(path: &str) -> bool {
    !["/api/", "/rpc/", "/pkg/", "/swagger-ui/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
        && ![
            "/healthz",
            "/readyz",
            "/metrics",
            "/favicon.ico",
            "/api-docs.js",
            "/login",
            "/setup",
        ]
        .contains(&path)
}

pub async fn pages_need_login(request: Request, next: Next) -> Response {
    let anonymous = request.extensions().get::<Principal>().is_none();
    let path = request.uri().path();
    if anonymous && request.method() == Method::GET && is_page(path) {
        let wanted = request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        let target = if wanted == "/" {
            "/login".to_string()
        } else {
            format!("/login?next={}", percent_encode(wanted))
        };
        return Redirect::to(&target).into_response();
    }
    next.run(request).await
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn cross_site_is_told_from_same_site() {
        let site = Site::default();
        let cross = |pairs: &[(&'static str, &str)]| is_cross_site(&headers(pairs), None, &site);
        assert!(!cross(&[("host", "limen:18443")]));
        assert!(!cross(&[
            ("host", "limen:18443"),
            ("origin", "http://limen:18443")
        ]));
        assert!(cross(&[
            ("host", "limen:18443"),
            ("origin", "https://evil.example")
        ]));
        assert!(cross(&[("host", "limen:18443"), ("origin", "null")]));
        assert!(cross(&[
            ("host", "limen:18443"),
            ("sec-fetch-site", "cross-site")
        ]));
        // HTTP/2: no Host header, the authority is in the URI.
        let h2 = headers(&[("origin", "https://limen.lan")]);
        assert!(!is_cross_site(&h2, Some("limen.lan"), &site));
        // Behind a proxy that rewrites Host, the configured public origin decides.
        let proxied = Site {
            public_origin: Some("https://limen.lan/".into()),
            ..Site::default()
        };
        let from_browser = headers(&[("host", "127.0.0.1:18443"), ("origin", "https://limen.lan")]);
        assert!(!is_cross_site(&from_browser, None, &proxied));
        let forged = headers(&[("host", "limen.lan"), ("origin", "https://evil.example")]);
        assert!(is_cross_site(&forged, None, &proxied));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_and_no_one_else_does() {
        let site = Site {
            trusted_proxies: vec!["10.0.0.1".parse().unwrap()],
            ..Site::default()
        };
        let request = |peer: &str, forwarded: &str| {
            let mut request = Request::builder()
                .header("x-forwarded-for", forwarded)
                .body(axum::body::Body::empty())
                .unwrap();
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 4000)));
            request
        };
        let ip = |text: &str| Some(text.parse::<IpAddr>().unwrap());
        assert_eq!(
            client_address(&request("10.0.0.1", "6.6.6.6, 192.0.2.7"), &site),
            ip("192.0.2.7")
        );
        assert_eq!(
            client_address(&request("192.0.2.9", "6.6.6.6"), &site),
            ip("192.0.2.9")
        );
        assert_eq!(
            client_address(&request("10.0.0.1", "6.6.6.6, junk"), &site),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn credentials_are_found() {
        let map = headers(&[
            ("authorization", "Bearer limen_abc"),
            ("cookie", "a=b; limen_session=xyz; c=d"),
        ]);
        assert_eq!(bearer(&map), Some("limen_abc"));
        assert_eq!(session_cookie(&map), Some("xyz"));
        assert_eq!(percent_encode("/vms/a b?x=1"), "/vms/a%20b%3Fx%3D1");
    }
}
