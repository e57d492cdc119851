//! Accepted connections, bounded: at most `max_connections` open at once, and a connection that
//! sends nothing is closed — within `handshake` of being accepted (a socket that never speaks
//! HTTP/2 holds a descriptor and nothing else), and after `idle` of silence later. Live clients are
//! never silent that long: the server pings every connection (`--keepalive-secs`) and their
//! acknowledgements count. At the limit a new connection takes the place of the oldest one that
//! has not spoken yet, so sockets opened and left silent cannot keep clients out; when every open
//! connection has spoken, the new one is closed at once and the client retries.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
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

/// The open connections: how many, and those that have not spoken yet, oldest first.
#[derive(Default)]
struct Open {
    count: AtomicUsize,
    silent: Mutex<VecDeque<Weak<Silence>>>,
}

/// A connection's first words: whether it spoke, and whether it was asked to make room.
#[derive(Default)]
struct Silence {
    spoke: AtomicBool,
    evicted: AtomicBool,
    /// Woken to close the connection when it is evicted while waiting to read.
    waker: Mutex<Option<Waker>>,
}

impl Open {
    /// Asks the oldest connection that has not spoken to close; false if there is none.
    fn evict_silent(&self) -> bool {
        let mut silent = self.silent.lock().expect("connections lock");
        while let Some(oldest) = silent.pop_front() {
            let Some(s) = oldest.upgrade() else { continue };
            if s.spoke.load(Ordering::Relaxed) {
                continue;
            }
            s.evicted.store(true, Ordering::Relaxed);
            if let Some(w) = s.waker.lock().expect("waker lock").take() {
                w.wake();
            }
            return true;
        }
        false
    }

    /// Registers a new connection that has not spoken, dropping entries that are gone or spoke.
    fn admit(&self) -> Arc<Silence> {
        let s = Arc::new(Silence::default());
        let mut silent = self.silent.lock().expect("connections lock");
        while silent
            .front()
            .is_some_and(|f| f.upgrade().is_none_or(|f| f.spoke.load(Ordering::Relaxed)))
        {
            silent.pop_front();
        }
        silent.push_back(Arc::downgrade(&s));
        self.count.fetch_add(1, Ordering::Relaxed);
        s
    }
}

/// Descriptors kept for everything but client connections: the database, log and metrics files.
const RESERVED_FILES: usize = 128;

/// `max` lowered to what the process's open-file limit leaves for connections (Linux: read from
/// /proc/self/limits), so the limit is reached before the descriptors run out: otherwise accepting
/// fails and a silent socket cannot be made to give its place.
fn within_open_file_limit(max: usize) -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        });
    match soft {
        Some(soft) if max + RESERVED_FILES > soft => {
            let lowered = soft.saturating_sub(RESERVED_FILES).max(1);
            tracing::warn!(
                configured = max,
                open_file_limit = soft,
                lowered,
                "--max-connections lowered to fit the open-file limit (raise `ulimit -n` for more)"
            );
            lowered
        }
        _ => max,
    }
}

/// The listener's connections, each bounded as the module says.
pub fn incoming(
    listener: TcpListener,
    mut limits: ConnectionLimits,
) -> impl Stream<Item = io::Result<Bounded>> {
    limits.max_connections = within_open_file_limit(limits.max_connections);
    let open = Arc::new(Open::default());
    TcpListenerStream::new(listener).filter_map(move |accepted| {
        let stream = match accepted {
            Ok(stream) => stream,
            // Out of descriptors and the like: the listener's trouble, not a reason to stop.
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed");
                return None;
            }
        };
        // An evicted connection counts until it has closed: the limit is overrun by at most
        // the connections still closing.
        if open.count.load(Ordering::Relaxed) >= limits.max_connections && !open.evict_silent() {
            tracing::warn!(
                peer = ?stream.peer_addr().ok(),
                limit = limits.max_connections,
                "connection limit reached: connection closed"
            );
            return None;
        }
        let _ = stream.set_nodelay(true);
        let silence = open.admit();
        Some(Ok(Bounded::new(stream, open.clone(), silence, limits)))
    })
}

/// A connection holding its place under the limit, closed when it stays silent.
pub struct Bounded {
    stream: TcpStream,
    open: Arc<Open>,
    silence: Arc<Silence>,
    quiet: Pin<Box<Sleep>>,
    idle: Duration,
}

impl Bounded {
    fn new(
        stream: TcpStream,
        open: Arc<Open>,
        silence: Arc<Silence>,
        limits: ConnectionLimits,
    ) -> Bounded {
        Bounded {
            stream,
            open,
            silence,
            quiet: Box::pin(tokio::time::sleep(limits.handshake)),
            idle: limits.idle,
        }
    }
}

impl Drop for Bounded {
    fn drop(&mut self) {
        self.open.count.fetch_sub(1, Ordering::Relaxed);
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
        let first_words = !self.silence.spoke.load(Ordering::Relaxed);
        if first_words && self.silence.evicted.load(Ordering::Relaxed) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed to make room: the connection had sent nothing",
            )));
        }
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    if first_words {
                        self.silence.spoke.store(true, Ordering::Relaxed);
                    }
                    let until = Instant::now() + self.idle;
                    self.quiet.as_mut().reset(until);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                if first_words {
                    *self.silence.waker.lock().expect("waker lock") = Some(cx.waker().clone());
                    // Evicted between the check above and the waker's arrival: nobody will wake it.
                    if self.silence.evicted.load(Ordering::Relaxed) {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            "closed to make room: the connection had sent nothing",
                        )));
                    }
                }
                match self.quiet.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client sent nothing for too long",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_fits_the_open_file_limit() {
        let soft: usize = std::fs::read_to_string("/proc/self/limits")
            .unwrap()
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
            .expect("a finite open-file limit");
        assert_eq!(within_open_file_limit(soft * 2), soft - RESERVED_FILES);
        assert_eq!(within_open_file_limit(10), 10);
    }
}
