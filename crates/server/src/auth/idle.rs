//! A request body that fails when the client sends nothing for too long: a call whose headers
//! arrived but whose messages do not (or a stream gone quiet) ends instead of holding its slot.
//! A body that has ended (a unary request, a server stream's one message) is never timed.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tonic::Status;
use tonic::body::Body;

pub struct IdleLimited {
    inner: Body,
    idle: Duration,
    /// When the client last sent something (or the call began).
    heard: Instant,
    /// Made only when the body first has to wait: a request that arrived whole (most unary calls)
    /// never sets a timer.
    silence: Option<Pin<Box<Sleep>>>,
}

impl IdleLimited {
    pub fn new(inner: Body, idle: Duration) -> IdleLimited {
        IdleLimited {
            inner,
            idle,
            heard: Instant::now(),
            silence: None,
        }
    }
}

impl HttpBody for IdleLimited {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.heard = Instant::now();
                let until = self.heard + self.idle;
                if let Some(silence) = self.silence.as_mut() {
                    silence.as_mut().reset(until);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(other) => Poll::Ready(other),
            Poll::Pending => {
                let until = self.heard + self.idle;
                let silence = self
                    .silence
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
                match silence.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Status::deadline_exceeded(format!(
                        "the client sent nothing for {} s (--stream-idle-secs)",
                        self.idle.as_secs()
                    ))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
