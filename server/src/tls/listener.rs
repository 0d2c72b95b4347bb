//! The HTTPS port as an `axum::serve` listener. Each accepted connection is looked at on its own
//! task: a TLS handshake is finished there and the stream handed to axum; anything else is plain
//! HTTP and gets a redirect to the same URL over HTTPS. A slow or silent client holds only its
//! own task, never the accept loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use bytes::Bytes;
use http::{header, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

/// A connection must say what it speaks (its first byte) within this…
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(3);
/// …and finish its TLS handshake (or its plain-HTTP request) within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections not yet handed to the server at once (an idle one costs a few KiB). Past this, a
/// new connection is closed at once instead of waiting: the accept loop never blocks, so idle
/// connections cannot keep everyone else out for long.
const HANDSHAKES_AT_ONCE: usize = 4096;
/// The first byte of a TLS record carrying a handshake.
const TLS_HANDSHAKE: u8 = 0x16;

pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp`; ends with `shutdown`. `public_url` is where the redirect of a
    /// plain-HTTP request points when set (else the `Host` the request named).
    pub fn start(
        tcp: TcpListener,
        server_config: Arc<rustls::ServerConfig>,
        public_url: Option<String>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (sender, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(server_config);
        let public_url: Option<Arc<str>> = public_url
            .filter(|url| url.starts_with("https://"))
            .map(|url| Arc::from(url.trim_end_matches('/')));
        let slots = Arc::new(Semaphore::new(HANDSHAKES_AT_ONCE));
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    accepted = tcp.accept() => accepted,
                };
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Out of file descriptors and the like: pause instead of spinning.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    tracing::debug!(%peer, "too many connections in their handshake: one closed");
                    drop(stream);
                    continue;
                };
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                let public_url = public_url.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    let _ = stream.set_nodelay(true);
                    let opened =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, open(stream, acceptor, public_url))
                            .await;
                    match opened {
                        Ok(Some(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(None) => {}
                        Err(_) => {
                            tracing::debug!(%peer, "a connection did not finish its TLS handshake in time")
                        }
                    }
                });
            }
        });
        Ok(Self { ready, local_addr })
    }
}

/// Finishes the handshake of a TLS connection; answers a plain-HTTP one (None).
async fn open(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    public_url: Option<Arc<str>>,
) -> Option<TlsStream<TcpStream>> {
    let mut first = [0u8; 1];
    let seen = tokio::time::timeout(FIRST_BYTE_TIMEOUT, stream.peek(&mut first))
        .await
        .ok()?
        .ok()?;
    if seen == 0 {
        return None;
    }
    if first[0] != TLS_HANDSHAKE {
        redirect_plain_http(stream, public_url).await;
        return None;
    }
    match acceptor.accept(stream).await {
        Ok(tls) => Some(tls),
        Err(error) => {
            // A browser that does not (yet) trust a self-signed certificate ends here.
            tracing::debug!(%error, "a TLS handshake failed");
            None
        }
    }
}

/// Serves one plain-HTTP exchange on the HTTPS port: a permanent redirect to the same path over
/// HTTPS, or a refusal in words when the request names no host to send the browser to.
async fn redirect_plain_http(stream: TcpStream, public_url: Option<Arc<str>>) {
    let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
        let response = redirect_response(&request, public_url.as_deref());
        async move { Ok::<_, std::convert::Infallible>(response) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .keep_alive(false)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    if let Err(error) = connection.await {
        tracing::debug!(%error, "a plain-HTTP request on the HTTPS port failed");
    }
}

fn redirect_response<B>(request: &Request<B>, public_url: Option<&str>) -> Response<Full<Bytes>> {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let origin = public_url.map(str::to_string).or_else(|| {
        request
            .headers()
            .get(header::HOST)
            .and_then(|host| host.to_str().ok())
            .filter(|host| valid_host(host))
            .map(|host| format!("https://{host}"))
    });
    let response = Response::builder().header(header::CONNECTION, "close");
    match origin {
        Some(origin) if path.starts_with('/') => response
            .status(StatusCode::PERMANENT_REDIRECT)
            .header(header::LOCATION, format!("{origin}{path}"))
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(
                "Limen is served over HTTPS on this port.\n",
            ))),
        _ => response
            .status(StatusCode::BAD_REQUEST)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from(
                "Limen is served over HTTPS on this port: use https:// in the address.\n",
            ))),
    }
    .expect("a static response is valid")
}

/// A `Host` header that may go into a `Location` as it is: a name or address and a port, nothing
/// that could end the header or add a path.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(pair) => pair,
            // The accept loop ended (shutdown): axum stops asking once its own shutdown signal
            // fires, which comes with ours.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(host: Option<&str>, path: &str) -> Request<()> {
        let mut builder = Request::builder().uri(path);
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn plain_http_is_sent_to_the_same_place_over_https() {
        let response = redirect_response(&request(Some("limen.lan:18443"), "/vms/x?y=1"), None);
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            response.headers()[header::LOCATION],
            "https://limen.lan:18443/vms/x?y=1"
        );
        let behind = redirect_response(
            &request(Some("10.0.0.5:18443"), "/"),
            Some("https://limen.home.lan"),
        );
        assert_eq!(
            behind.headers()[header::LOCATION],
            "https://limen.home.lan/"
        );
    }

    #[test]
    fn a_host_that_could_smuggle_a_location_is_refused() {
        for host in ["evil.com/path", "a b", "", "x@evil.com"] {
            let response = redirect_response(&request(Some(host), "/"), None);
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{host}");
        }
        let response = redirect_response(&request(None, "/"), None);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
}
