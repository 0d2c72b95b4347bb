//! A WebSocket client for the console tests: connects with the caller's credentials, and reads
//! what arrives with every wait bounded.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a console connection attempt came to.
#[derive(Debug)]
pub enum Connected {
    /// Upgraded, with the subprotocol the server chose.
    Open(Box<Socket>, Option<String>),
    /// Refused before the upgrade: the status and the `{error, code}` body.
    Refused(u16, Value),
}

/// Connects to `url` (ws://…) with these extra request headers.
pub async fn connect(url: &str, headers: &[(&str, &str)]) -> Connected {
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let attempt = tokio_tungstenite::connect_async(request);
    match tokio::time::timeout(Duration::from_secs(60), attempt)
        .await
        .expect("the console answered within a minute")
    {
        Ok((socket, response)) => {
            let protocol = response
                .headers()
                .get("sec-websocket-protocol")
                .map(|value| value.to_str().unwrap().to_string());
            Connected::Open(Box::new(socket), protocol)
        }
        Err(Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_ref()
                .map(|body| serde_json::from_slice(body).unwrap_or(Value::Null))
                .unwrap_or(Value::Null);
            Connected::Refused(status, body)
        }
        Err(error) => panic!("connecting to {url}: {error}"),
    }
}

/// The next message, within `limit`; `None` if the connection ended.
pub async fn next(socket: &mut Socket, limit: Duration) -> Option<Message> {
    match tokio::time::timeout(limit, socket.next()).await {
        Ok(Some(Ok(message))) => Some(message),
        Ok(Some(Err(_))) | Ok(None) => None,
        Err(_) => panic!("nothing arrived within {limit:?}"),
    }
}

/// Binary bytes until `want` of them arrived (RFB messages may come in any framing).
pub struct Bytes {
    pub buffer: Vec<u8>,
}

impl Bytes {
    pub fn new() -> Self {
        Self { buffer: Vec::new() }
    }

    /// The next `count` bytes of the binary stream.
    pub async fn take(&mut self, socket: &mut Socket, count: usize) -> Vec<u8> {
        while self.buffer.len() < count {
            match next(socket, Duration::from_secs(60)).await {
                Some(Message::Binary(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Message::Ping(_) | Message::Pong(_)) => {}
                other => panic!("expected console bytes, got {other:?}"),
            }
        }
        self.buffer.drain(..count).collect()
    }
}

/// Reads text from a binary stream until it contains `needle`; returns all read so far.
pub async fn read_until(socket: &mut Socket, needle: &str, limit: Duration) -> String {
    let mut text = String::new();
    let wait = async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Binary(bytes))) => {
                    text.push_str(&String::from_utf8_lossy(&bytes));
                    if text.contains(needle) {
                        return;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("waiting for {needle:?}: {other:?}\nso far: {text}"),
            }
        }
    };
    if tokio::time::timeout(limit, wait).await.is_err() {
        panic!("{needle:?} did not arrive within {limit:?}; so far:\n{text}");
    }
    text
}

/// What the server said when it closed: the `{error, code}` message (if one came) and the
/// close frame's code and reason.
pub async fn closing_words(socket: &mut Socket) -> (Option<Value>, Option<(u16, String)>) {
    let mut said = None;
    loop {
        match next(socket, Duration::from_secs(60)).await {
            Some(Message::Text(text)) => said = Some(serde_json::from_str(&text).unwrap()),
            Some(Message::Close(close)) => {
                let close = close.map(|close| (u16::from(close.code), close.reason.to_string()));
                // Reading on sends our reply: the close handshake completes.
                let _ = tokio::time::timeout(Duration::from_secs(5), socket.next()).await;
                return (said, close);
            }
            Some(Message::Binary(_) | Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            None => return (said, None),
        }
    }
}

pub async fn send(socket: &mut Socket, bytes: &[u8]) {
    socket
        .send(Message::Binary(bytes.to_vec().into()))
        .await
        .unwrap();
}
