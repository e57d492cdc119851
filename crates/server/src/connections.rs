//! Accepted connections, bounded: at most `max_connections` open at once (beyond it a new one is
//! closed at once, and the client retries), and a connection that sends nothing is closed — within
//! `handshake` of being accepted (a socket that never speaks HTTP/2 holds a descriptor and
//! nothing else), and after `idle` of silence later. Live clients are never silent that long:
//! the server pings every connection (`--keepalive-secs`) and their acknowledgements count.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::{Stream, StreamExt};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub handshake: Duration,
    pub idle: Duration,
}

/// The listener's connections, each bounded as the module says.
pub fn incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
) -> impl Stream<Item = io::Result<Bounded>> {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    TcpListenerStream::new(listener).filter_map(move |accepted| {
        let stream = match accepted {
            Ok(stream) => stream,
            // Out of descriptors and the like: the listener's trouble, not a reason to stop.
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                return None;
            }
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            tracing::warn!(
                peer = ?stream.peer_addr().ok(),
                limit = limits.max_connections,
                "connection limit reached: connection closed"
            );
            return None;
        };
        let _ = stream.set_nodelay(true);
        Some(Ok(Bounded::new(stream, permit, limits)))
    })
}

/// A connection holding its place under the limit, closed when it stays silent.
pub struct Bounded {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    silence: Pin<Box<Sleep>>,
    idle: Duration,
}

impl Bounded {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit, limits: ConnectionLimits) -> Bounded {
        Bounded {
            stream,
            _permit: permit,
            silence: Box::pin(tokio::time::sleep(limits.handshake)),
            idle: limits.idle,
        }
    }
}

impl Connected for Bounded {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let until = Instant::now() + self.idle;
                    self.silence.as_mut().reset(until);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match self.silence.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client sent nothing for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
