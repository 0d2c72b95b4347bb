//! The relay between a WebSocket and a console's byte stream (a VNC server's RFB bytes, a
//! serial port's). Bytes go both ways as they come; each side waits for the other to take what
//! it sent before reading more, so a slow browser (or a slow guest) makes the relay wait, never
//! buffer without bound: at most one read buffer per direction is in flight.

use bytes::{Bytes, BytesMut};
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes read from the console at once (one WebSocket frame at most this large).
pub const READ_SIZE: usize = 64 * 1024;

/// A WebSocket message, as the relay sees it (the HTTP edge and the tests map their
/// library's type to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Binary(Bytes),
    /// A text message: its UTF-8 bytes go to the console like binary ones (a terminal sends
    /// keys as text); the relay itself sends one only to say why it closes.
    Text(String),
    Close(Option<Close>),
    /// Pings and pongs: answered by the WebSocket library itself.
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
    /// The console's side closed (the VNC server, the serial port).
    Console,
    /// Reading or writing the console failed.
    ConsoleFailed(String),
}

/// Relays until one side ends. The WebSocket is left open for the caller to say why it closes.
pub async fn relay<W, E, C>(ws: &mut W, console: C) -> Ended
where
    W: Stream<Item = Result<Frame, E>> + Sink<Frame> + Unpin,
    C: AsyncRead + AsyncWrite,
{
    let (mut to_client, mut from_client) = ws.split();
    let (mut from_console, mut to_console) = tokio::io::split(console);
    let upstream = async {
        let mut buf = BytesMut::with_capacity(READ_SIZE);
        loop {
            buf.reserve(READ_SIZE);
            match from_console.read_buf(&mut buf).await {
                Ok(0) => return Ended::Console,
                Ok(_) => {
                    let frame = Frame::Binary(buf.split().freeze());
                    // Waits until the client's connection took it: the backpressure.
                    if to_client.send(frame).await.is_err() {
                        return Ended::Client(None);
                    }
                }
                Err(error) => return Ended::ConsoleFailed(error.to_string()),
            }
        }
    };
    let downstream = async {
        while let Some(frame) = from_client.next().await {
            let bytes = match frame {
                Ok(Frame::Binary(bytes)) => bytes,
                Ok(Frame::Text(text)) => Bytes::from(text),
                Ok(Frame::Close(close)) => return Ended::Client(close),
                Ok(Frame::Control) => continue,
                Err(_) => return Ended::Client(None),
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
/// error to tell, then the close frame.
pub async fn close_with<W>(ws: &mut W, error: Option<&app::error::AppError>, close: Close)
where
    W: Sink<Frame> + Unpin,
{
    if let Some(error) = error {
        let message = serde_json::to_string(error).expect("an error serializes");
        let _ = ws.send(Frame::Text(message)).await;
    }
    let _ = ws.send(Frame::Close(Some(close))).await;
    let _ = ws.close().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
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
            Frame::Control => Message::Pong(Bytes::new()),
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
        let error =
            app::error::AppError::new(app::error::ErrorCode::VmNotRunning, "The VM stopped.");
        close_with(&mut ws, Some(&error), Close::new(1000, "The VM stopped.")).await;
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

    #[test]
    fn close_reasons_fit_a_close_frame() {
        let long = "é".repeat(100);
        let close = Close::new(1000, &long);
        assert!(close.reason.len() <= 123);
        assert!(long.starts_with(&close.reason));
    }
}
