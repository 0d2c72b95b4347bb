//! Reaching a VM's VNC server: the endpoint libvirt gives (`Host::open_vnc`), connected as a
//! byte stream the console proxy relays.

use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// How long connecting to a VNC server's address may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a console reaches a VM's VNC server.
#[derive(Debug)]
pub enum VncEndpoint {
    /// A socket libvirt connected to the VNC server (`virDomainOpenGraphicsFD`).
    Socket(OwnedFd),
    /// The address the live definition's VNC server listens on (drivers without graphics
    /// sockets).
    Address(std::net::SocketAddr),
}

/// A connection to a VNC server.
#[derive(Debug)]
pub enum VncStream {
    Socket(UnixStream),
    Tcp(TcpStream),
}

impl VncEndpoint {
    pub async fn connect(self) -> io::Result<VncStream> {
        match self {
            VncEndpoint::Socket(fd) => {
                // libvirt's graphics socket is a local stream socket; read and write it as one.
                let socket = std::os::unix::net::UnixStream::from(fd);
                socket.set_nonblocking(true)?;
                Ok(VncStream::Socket(UnixStream::from_std(socket)?))
            }
            VncEndpoint::Address(address) => {
                let connect = TcpStream::connect(address);
                let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                    .await
                    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
                stream.set_nodelay(true)?;
                Ok(VncStream::Tcp(stream))
            }
        }
    }
}

impl AsyncRead for VncStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            VncStream::Socket(stream) => Pin::new(stream).poll_read(cx, buf),
            VncStream::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for VncStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            VncStream::Socket(stream) => Pin::new(stream).poll_write(cx, buf),
            VncStream::Tcp(stream) => Pin::new(stream).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            VncStream::Socket(stream) => Pin::new(stream).poll_flush(cx),
            VncStream::Tcp(stream) => Pin::new(stream).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            VncStream::Socket(stream) => Pin::new(stream).poll_shutdown(cx),
            VncStream::Tcp(stream) => Pin::new(stream).poll_shutdown(cx),
        }
    }
}
