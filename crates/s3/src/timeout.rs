//! A request body that fails when its next part does not arrive in time, so a client that
//! announces a body and stops sending cannot hold its connection.
//!
//! `tower_http`'s `TimeoutBody` (what the API uses) does not pass the body's size on, and
//! s3s reads the payload's length from it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) struct ReadTimeout<B> {
    body: B,
    timeout: Duration,
    /// Running while a part is awaited; reset by each part that arrives.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> ReadTimeout<B> {
    pub(crate) fn new(timeout: Duration, body: B) -> ReadTimeout<B> {
        ReadTimeout {
            body,
            timeout,
            sleep: None,
        }
    }
}

impl<B> Body for ReadTimeout<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            this.sleep = None;
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                Poll::Ready(Some(Err("the request body did not arrive in time".into())))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
