//! A guest's stdout or stderr captured in memory up to a limit.
//!
//! wasmtime-wasi's own memory pipe traps the guest when it is full; a log flood must instead be
//! cut (as the process kinds cut it) while the function carries on, so the excess is counted and
//! dropped here.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// How much a guest may write in one go before asking again; any value works.
const WRITE_BUDGET: usize = 64 * 1024;

#[derive(Clone)]
pub(crate) struct Capture {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    limit: usize,
    dropped: usize,
}

impl Capture {
    pub(crate) fn new(limit: usize) -> Capture {
        Capture {
            inner: Arc::new(Mutex::new(Captured {
                limit,
                ..Captured::default()
            })),
        }
    }

    /// What was kept and how many bytes were dropped, leaving the capture empty for what
    /// follows (a warm component instance's next call).
    pub(crate) fn take(&self) -> (Vec<u8>, usize) {
        let mut c = self.lock();
        (std::mem::take(&mut c.kept), std::mem::take(&mut c.dropped))
    }

    /// Appends `text` as a line of its own (the component `log` import).
    /// A line the guest left unfinished on the same stream is ended first.
    pub(crate) fn line(&self, text: &str) {
        let mut c = self.lock();
        if !c.kept.is_empty() && !c.kept.ends_with(b"\n") {
            c.push(b"\n");
        }
        c.push(text.as_bytes());
        c.push(b"\n");
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Captured> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn append(&self, bytes: &[u8]) {
        self.lock().push(bytes);
    }
}

impl Captured {
    fn push(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.kept.len());
        let kept = bytes.len().min(room);
        self.kept.extend_from_slice(&bytes[..kept]);
        self.dropped += bytes.len() - kept;
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for Capture {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Capture {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_up_to_the_limit_and_counts_the_rest() {
        let c = Capture::new(5);
        c.append(b"abc");
        c.append(b"defg");
        assert_eq!(c.take(), (b"abcde".to_vec(), 2));
        assert_eq!(c.take(), (Vec::new(), 0), "taking empties it");
    }

    #[test]
    fn a_logged_line_stands_on_its_own() {
        let c = Capture::new(100);
        c.append(b"partial");
        c.line("logged");
        c.line("again");
        assert_eq!(c.take().0, b"partial\nlogged\nagain\n".to_vec());
    }
}
