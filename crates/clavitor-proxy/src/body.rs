//! Body types: one boxed body type for everything the proxy sends, an idle-timeout wrapper
//! and a bounded channel body fed by a task (used for redacted responses).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub(crate) type ProxyBody = UnsyncBoxBody<Bytes, BoxError>;

pub(crate) fn full(bytes: Bytes) -> ProxyBody {
    Full::new(bytes)
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// The peer stayed silent longer than the idle timeout.
#[derive(Debug, thiserror::Error)]
#[error("idle timeout")]
pub(crate) struct IdleTimeout;

/// Fails the stream when the inner body produces nothing for `idle` while being polled.
/// Long streams are fine as long as they keep moving (idle, not total, timeouts).
pub(crate) struct IdleBody<B> {
    inner: B,
    idle: Duration,
    sleep: Pin<Box<Sleep>>,
    waiting: bool,
}

impl<B> IdleBody<B> {
    pub(crate) fn new(inner: B, idle: Duration) -> Self {
        IdleBody {
            inner,
            idle,
            sleep: Box::pin(tokio::time::sleep(idle)),
            waiting: false,
        }
    }
}

impl<B> Body for IdleBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = false;
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
            Poll::Pending => {
                if !this.waiting {
                    this.waiting = true;
                    let deadline = Instant::now() + this.idle;
                    this.sleep.as_mut().reset(deadline);
                }
                match this.sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(IdleTimeout)))),
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

pub(crate) type FrameResult = Result<Frame<Bytes>, BoxError>;

/// A body fed through a bounded channel (backpressure keeps memory bounded).
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<FrameResult>,
}

impl ChannelBody {
    pub(crate) fn new(capacity: usize) -> (mpsc::Sender<FrameResult>, ChannelBody) {
        let (tx, rx) = mpsc::channel(capacity);
        (tx, ChannelBody { rx })
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_body_times_out_only_when_silent() {
        let (tx, inner) = ChannelBody::new(1);
        let mut body = IdleBody::new(inner, Duration::from_secs(10));
        let feeder = tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(8)).await;
                tx.send(Ok(Frame::data(Bytes::from_static(b"x"))))
                    .await
                    .unwrap();
            }
            // Then silence, sender kept alive.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(tx);
        });
        // 24 s in total, but never 10 s without data: fine.
        for _ in 0..3 {
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(frame.into_data().unwrap(), "x");
        }
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(err.is::<IdleTimeout>());
        feeder.abort();
    }
}
