//! The relay between a WebSocket and a console's byte stream (a VNC server's RFB bytes, a
//! serial port's). Bytes go both ways as they come; each side waits for the other to take what
//! it sent before reading more, so a slow browser (or a slow guest) makes the relay wait, never
//! buffer without bound: at most one read buffer per direction is in flight.
//!
//! A client that is gone without a word (a laptop shut, a network cut) must not hold a session
//! and its place in the limits for ever: the relay pings the client, and ends the session when
//! it hears nothing for a while, or when the client takes nothing it is sent for a while.

use bytes::{Bytes, BytesMut};
use futures::{Sink, SinkExt, Stream, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

/// Bytes read from the console at once (one WebSocket frame at most this large). An idle
/// console holds a small buffer; one that fills it gets a larger one, up to this.
pub const READ_SIZE: usize = 64 * 1024;
const FIRST_READ_SIZE: usize = 4 * 1024;
/// How long saying goodbye may take: a client that does not read cannot hold a session open.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the client is pinged (browsers answer pings by themselves).
pub const PING_INTERVAL: Duration = Duration::from_secs(30);
/// A client silent this long (not even a pong) is gone.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(75);
/// A client that takes nothing of one message this long is stuck (or gone).
pub const SEND_LIMIT: Duration = Duration::from_secs(60);

/// A WebSocket message, as the relay sees it (the HTTP edge and the tests map their
/// library's type to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Binary(Bytes),
    /// A text message: its UTF-8 bytes go to the console like binary ones (a terminal sends
    /// keys as text); the relay itself sends one only to say why it closes.
    Text(String),
    Close(Option<Close>),
    /// Pings and pongs: answered by the WebSocket library itself. Sent by the relay, a ping.
    Control,
}

/// A close frame's code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: String,
}

impl Close {
    /// A close frame; the reason cut to what a close frame holds (123 bytes).
    pub fn new(code: u16, reason: &str) -> Self {
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            code,
            reason: reason[..end].to_string(),
        }
    }
}

/// Why a relay ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The client closed the WebSocket (with its close frame, if it sent one) or went away.
    Client(Option<Close>),
    /// The client broke the protocol (e.g. a message over the size limit).
    ClientError(String),
    /// The client answered nothing for `SILENCE_LIMIT`, or took nothing for `SEND_LIMIT`.
    ClientSilent,
    /// The console's side closed (the VNC server, the serial port).
    Console,
    /// Reading or writing the console failed.
    ConsoleFailed(String),
}

/// Relays until one side ends. The WebSocket is left open for the caller to say why it closes.
pub async fn relay<W, E, C>(ws: &mut W, console: C) -> Ended
where
    W: Stream<Item = Result<Frame, E>> + Sink<Frame> + Unpin,
    E: std::fmt::Display,
    C: AsyncRead + AsyncWrite,
{
    let (mut to_client, mut from_client) = ws.split();
    let (mut from_console, mut to_console) = tokio::io::split(console);
    // When the client was last heard from, in milliseconds since `start` (both halves read it).
    let start = Instant::now();
    let heard = AtomicU64::new(0);
    let upstream = async {
        let mut size = FIRST_READ_SIZE;
        let mut buf = BytesMut::new();
        let mut pings = tokio::time::interval_at(start + PING_INTERVAL, PING_INTERVAL);
        loop {
            buf.reserve(size);
            let frame = tokio::select! {
                // Cancel-safe: if the ping wins, nothing was read.
                read = from_console.read_buf(&mut buf) => match read {
                    Ok(0) => return Ended::Console,
                    Ok(read) => {
                        if read >= size {
                            size = (size * 2).min(READ_SIZE);
                        }
                        Frame::Binary(buf.split().freeze())
                    }
                    Err(error) => return Ended::ConsoleFailed(error.to_string()),
                },
                now = pings.tick() => {
                    let last = start + Duration::from_millis(heard.load(Ordering::Relaxed));
                    if now.duration_since(last) >= SILENCE_LIMIT {
                        return Ended::ClientSilent;
                    }
                    Frame::Control
                }
            };
            // Waits until the client's connection took it: the backpressure.
            match tokio::time::timeout(SEND_LIMIT, to_client.send(frame)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Ended::Client(None),
                Err(_) => return Ended::ClientSilent,
            }
        }
    };
    let downstream = async {
        while let Some(frame) = from_client.next().await {
            let since_start = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            heard.store(since_start, Ordering::Relaxed);
            let bytes = match frame {
                Ok(Frame::Binary(bytes)) => bytes,
                Ok(Frame::Text(text)) => Bytes::from(text),
                Ok(Frame::Close(close)) => return Ended::Client(close),
                Ok(Frame::Control) => continue,
                Err(error) => return Ended::ClientError(error.to_string()),
            };
            if let Err(error) = to_console.write_all(&bytes).await {
                return Ended::ConsoleFailed(error.to_string());
            }
        }
        Ended::Client(None)
    };
    let ended = tokio::select! {
        ended = upstream => ended,
        ended = downstream => ended,
    };
    // Whatever ended it, the console's side is told (a VNC server sees the socket close).
    let _ = to_console.shutdown().await;
    ended
}

/// Says why the connection closes: a JSON `{error, code}` text message first when there is an
/// error to tell, then the close frame; then waits (briefly) for the client's close, so that
/// the connection is not torn down under the words. A client that takes nothing does not hold
/// it open: after `CLOSE_TIMEOUT` the connection is dropped.
pub async fn close_with<W, E>(ws: &mut W, error: Option<&app::error::AppError>, close: Close)
where
    W: Stream<Item = Result<Frame, E>> + Sink<Frame> + Unpin,
{
    let goodbye = async {
        if let Some(error) = error {
            let message = serde_json::to_string(error).expect("an error serializes");
            let _ = ws.send(Frame::Text(message)).await;
        }
        let _ = ws.send(Frame::Close(Some(close))).await;
        // The client's close (or the end of the connection) ends the handshake.
        while let Some(Ok(frame)) = ws.next().await {
            if matches!(frame, Frame::Close(_)) {
                break;
            }
        }
        let _ = ws.close().await;
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, goodbye).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::DuplexStream;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::WebSocketStream;

    /// tungstenite's messages as relay frames, as the HTTP edge maps axum's.
    fn to_frame(message: Message) -> Frame {
        match message {
            Message::Binary(bytes) => Frame::Binary(bytes),
            Message::Text(text) => Frame::Text(text.to_string()),
            Message::Close(close) => Frame::Close(close.map(|close| Close {
                code: close.code.into(),
                reason: close.reason.to_string(),
            })),
            _ => Frame::Control,
        }
    }

    fn to_message(frame: Frame) -> Message {
        match frame {
            Frame::Binary(bytes) => Message::Binary(bytes),
            Frame::Text(text) => Message::Text(text.into()),
            Frame::Close(close) => Message::Close(close.map(|close| CloseFrame {
                code: CloseCode::from(close.code),
                reason: close.reason.into(),
            })),
            Frame::Control => Message::Ping(Bytes::new()),
        }
    }

    type WsError = tokio_tungstenite::tungstenite::Error;

    /// A WebSocket over an in-memory pipe: the relay's end (as frames) and the client's end.
    async fn websocket(
        capacity: usize,
    ) -> (
        impl Stream<Item = Result<Frame, WsError>> + Sink<Frame, Error = WsError> + Unpin,
        WebSocketStream<DuplexStream>,
    ) {
        let (server, client) = tokio::io::duplex(capacity);
        let server = WebSocketStream::from_raw_socket(server, Role::Server, None).await;
        let client = WebSocketStream::from_raw_socket(client, Role::Client, None).await;
        let server = server
            .map(|message| message.map(to_frame))
            .with(|frame| futures::future::ready(Ok::<_, WsError>(to_message(frame))));
        (server, client)
    }

    #[tokio::test]
    async fn bytes_go_both_ways_and_a_client_close_ends_it_with_its_reason() {
        let (mut ws, mut client) = websocket(64 * 1024).await;
        let (console, mut guest) = tokio::io::duplex(64 * 1024);
        let relay = tokio::spawn(async move { relay(&mut ws, console).await });

        guest.write_all(b"RFB 003.008\n").await.unwrap();
        let banner = client.next().await.unwrap().unwrap();
        assert_eq!(
            banner,
            Message::Binary(Bytes::from_static(b"RFB 003.008\n"))
        );
        client
            .send(Message::Binary(Bytes::from_static(b"RFB 003.008\n")))
            .await
            .unwrap();
        client.send(Message::Text("ls\n".into())).await.unwrap();
        let mut echoed = [0u8; 15];
        guest.read_exact(&mut echoed).await.unwrap();
        assert_eq!(&echoed, b"RFB 003.008\nls\n");

        let bye = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        client.send(Message::Close(Some(bye))).await.unwrap();
        let ended = relay.await.unwrap();
        assert_eq!(
            ended,
            Ended::Client(Some(Close {
                code: 1000,
                reason: "bye".into()
            }))
        );
        // The console's side sees the end of the stream.
        assert_eq!(guest.read(&mut [0u8; 8]).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn the_consoles_end_reaches_the_client_with_a_reason() {
        let (mut ws, mut client) = websocket(64 * 1024).await;
        let (console, guest) = tokio::io::duplex(64 * 1024);
        drop(guest);
        assert_eq!(relay(&mut ws, console).await, Ended::Console);
        let goodbye = tokio::spawn(async move {
            let error =
                app::error::AppError::new(app::error::ErrorCode::VmNotRunning, "The VM stopped.");
            close_with(&mut ws, Some(&error), Close::new(1000, "The VM stopped.")).await;
        });
        let said = client.next().await.unwrap().unwrap();
        let said: serde_json::Value = serde_json::from_str(said.to_text().unwrap()).unwrap();
        assert_eq!(said["code"], "VM_NOT_RUNNING");
        match client.next().await.unwrap().unwrap() {
            Message::Close(Some(close)) => {
                assert_eq!(
                    (u16::from(close.code), close.reason.as_str()),
                    (1000, "The VM stopped.")
                )
            }
            other => panic!("{other:?}"),
        }
        // Reading on sends the client's reply: the server's goodbye ends at once, not after
        // its timeout.
        assert!(client.next().await.is_none());
        tokio::time::timeout(Duration::from_secs(1), goodbye)
            .await
            .expect("the close handshake completed")
            .unwrap();
    }

    /// A client that stops reading stops the relay from reading the console: the console's
    /// writer can put no more than a few buffers' worth into the pipes before it must wait.
    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_bounds_what_is_buffered() {
        let (mut ws, client) = websocket(64 * 1024).await;
        let (console, mut guest) = tokio::io::duplex(64 * 1024);
        let relay = tokio::spawn(async move { relay(&mut ws, console).await });
        let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&written);
        // 64 MiB, unless something makes it wait.
        let flood = async move {
            let chunk = vec![7u8; 16 * 1024];
            for _ in 0..4096 {
                guest.write_all(&chunk).await.unwrap();
                counter.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
            }
        };
        // With the clock paused, the timeout fires only once every task waits: the flood is
        // stuck, not merely slow.
        assert!(tokio::time::timeout(Duration::from_secs(60), flood)
            .await
            .is_err());
        let buffered = written.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            buffered < 1024 * 1024,
            "{buffered} bytes taken from a console nobody reads"
        );
        drop(client);
        relay.abort();
    }

    /// A client that answers nothing (gone without a close) ends the relay, and with it the
    /// session's hold on its place in the limits.
    #[tokio::test(start_paused = true)]
    async fn a_silent_client_ends_the_relay() {
        let (mut ws, client) = websocket(64 * 1024).await;
        let (console, _guest) = tokio::io::duplex(64 * 1024);
        let started = Instant::now();
        let ended = tokio::time::timeout(Duration::from_secs(600), relay(&mut ws, console))
            .await
            .expect("the relay ended");
        assert_eq!(ended, Ended::ClientSilent);
        let took = started.elapsed();
        assert!(
            took >= SILENCE_LIMIT && took <= SILENCE_LIMIT + PING_INTERVAL,
            "{took:?}"
        );
        drop(client);
    }

    /// A client that is there (its library answers the pings) keeps an idle console open for as
    /// long as it likes; its close still ends it.
    #[tokio::test(start_paused = true)]
    async fn an_idle_client_that_answers_pings_stays() {
        let (mut ws, client) = websocket(64 * 1024).await;
        let (console, _guest) = tokio::io::duplex(64 * 1024);
        let relay = tokio::spawn(async move { relay(&mut ws, console).await });
        let (mut sink, mut stream) = client.split();
        let pings = tokio::spawn(async move {
            let mut pings = 0;
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Ping(_) = message {
                    pings += 1;
                }
            }
            pings
        });
        // Virtual time (the clock is paused): ten minutes of an idle console.
        tokio::time::sleep(SILENCE_LIMIT * 8).await;
        assert!(!relay.is_finished(), "an answering client was dropped");
        sink.send(Message::Close(None)).await.unwrap();
        assert_eq!(relay.await.unwrap(), Ended::Client(None));
        drop(sink);
        assert!(pings.await.unwrap() >= 10);
    }

    #[test]
    fn close_reasons_fit_a_close_frame() {
        let long = "é".repeat(100);
        let close = Close::new(1000, &long);
        assert!(close.reason.len() <= 123);
        assert!(long.starts_with(&close.reason));
    }
}
