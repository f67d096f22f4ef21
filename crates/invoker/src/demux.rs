//! Routes what one runtime process writes to the activations in flight on it.
//!
//! Pure state: the process driver feeds it events (a registration, a log line, a reply on fd 3,
//! end of a pipe) and it says which activations are finished. An activation is finished when
//! its reply has arrived and both streams have shown its sentinel, or when the process is gone.

use std::time::SystemTime;

use crate::logs::{LogBuffer, Stream};
use crate::protocol::{split_tag, Reply, SENTINEL};

/// What the process produced for one exchange (ready, init or run).
#[derive(Debug)]
pub struct Finished {
    pub reply: Option<Reply>,
    /// Byte length of the reply line.
    pub reply_size: usize,
    pub logs: Vec<String>,
}

pub struct Inflight<T> {
    /// The activation id of a run; `None` for ready and init exchanges.
    pub id: Option<String>,
    pub token: T,
    logs: LogBuffer,
    reply: Option<(Reply, usize)>,
    stdout_done: bool,
    stderr_done: bool,
}

impl<T> Inflight<T> {
    /// `sentinels`: whether the launcher writes sentinels after this exchange (not after
    /// `ready`).
    pub fn new(id: Option<String>, sentinels: bool, log_limit: usize, token: T) -> Inflight<T> {
        Inflight {
            id,
            token,
            logs: LogBuffer::new(log_limit),
            reply: None,
            stdout_done: !sentinels,
            stderr_done: !sentinels,
        }
    }

    /// Whether `stream` has shown this exchange's sentinel.
    fn ended(&self, stream: Stream) -> bool {
        match stream {
            Stream::Stdout => self.stdout_done,
            Stream::Stderr => self.stderr_done,
        }
    }

    fn is_complete(&self) -> bool {
        self.reply.is_some() && self.stdout_done && self.stderr_done
    }

    fn finish(self) -> (T, Finished) {
        let (reply, reply_size) = match self.reply {
            Some((reply, size)) => (Some(reply), size),
            None => (None, 0),
        };
        (
            self.token,
            Finished {
                reply,
                reply_size,
                logs: self.logs.finish(),
            },
        )
    }
}

/// The in-flight exchanges of one process, oldest first.
pub struct Demux<T> {
    inflight: Vec<Inflight<T>>,
}

impl<T> Default for Demux<T> {
    fn default() -> Self {
        Demux {
            inflight: Vec::new(),
        }
    }
}

impl<T> Demux<T> {
    pub fn register(&mut self, exchange: Inflight<T>) {
        self.inflight.push(exchange);
    }

    /// Index of the run with activation id `id`.
    fn target(&self, id: &str) -> Option<usize> {
        self.inflight
            .iter()
            .position(|e| e.id.as_deref() == Some(id))
    }

    /// A log line: a tagged one goes to its activation; an untagged one to the oldest exchange
    /// whose sentinel `stream` has not shown yet, since a launcher that runs one thing at a
    /// time writes each exchange's lines and sentinel before the next one's (a Python process
    /// with `concurrency > 1` takes its runs in turn, untagged); failing that, to the oldest
    /// (what a launcher writes as it dies after a sentinel, a traceback, is that exchange's).
    pub fn log_line(&mut self, stream: Stream, time: SystemTime, line: &str) -> Vec<(T, Finished)> {
        let (id, text) = split_tag(line);
        let index = match id {
            Some(id) => self.target(id),
            None => self
                .inflight
                .iter()
                .position(|e| !e.ended(stream))
                .or((!self.inflight.is_empty()).then_some(0)),
        };
        let Some(index) = index else {
            return Vec::new(); // output between activations belongs to none of them
        };
        let (text, ended) = match text.strip_suffix(SENTINEL) {
            Some(before) => (before, true),
            None => (text, false),
        };
        let exchange = &mut self.inflight[index];
        if !text.is_empty() || !ended {
            exchange.logs.push(stream, time, text);
        }
        if ended {
            match stream {
                Stream::Stdout => exchange.stdout_done = true,
                Stream::Stderr => exchange.stderr_done = true,
            }
        }
        self.take_complete()
    }

    pub fn reply(&mut self, reply: Reply, size: usize) -> Vec<(T, Finished)> {
        let index = match reply.activation_id.as_deref() {
            Some(id) => self.target(id),
            None => self.inflight.iter().position(|e| e.id.is_none()),
        };
        if let Some(index) = index {
            self.inflight[index].reply = Some((reply, size));
        }
        self.take_complete()
    }

    /// The process is gone: every exchange still in flight ends now, as it stands.
    pub fn exited(&mut self) -> Vec<(T, Finished)> {
        self.inflight.drain(..).map(Inflight::finish).collect()
    }

    fn take_complete(&mut self) -> Vec<(T, Finished)> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.inflight.len() {
            if self.inflight[i].is_complete() {
                done.push(self.inflight.remove(i).finish());
            } else {
                i += 1;
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(id: Option<&str>) -> Reply {
        Reply {
            ready: false,
            ok: false,
            activation_id: id.map(String::from),
            result: Some(serde_json::json!({})),
            error: None,
        }
    }

    #[test]
    fn sequential_run_finishes_after_reply_and_both_sentinels() {
        let mut d = Demux::default();
        d.register(Inflight::new(Some("a".into()), true, 1000, 1));
        let now = SystemTime::now();
        assert!(d.log_line(Stream::Stdout, now, "hello").is_empty());
        assert!(d.reply(reply(Some("a")), 10).is_empty());
        assert!(d.log_line(Stream::Stdout, now, SENTINEL).is_empty());
        let done = d.log_line(Stream::Stderr, now, SENTINEL);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].0, 1);
        assert_eq!(done[0].1.logs.len(), 1);
        assert!(done[0].1.logs[0].ends_with("stdout: hello"));
    }

    #[test]
    fn text_before_a_sentinel_on_the_same_line_is_kept() {
        let mut d = Demux::default();
        d.register(Inflight::new(Some("a".into()), true, 1000, ()));
        let now = SystemTime::now();
        d.reply(reply(Some("a")), 1);
        d.log_line(Stream::Stdout, now, &format!("partial{SENTINEL}"));
        let done = d.log_line(Stream::Stderr, now, SENTINEL);
        assert!(done[0].1.logs[0].ends_with("stdout: partial"));
    }

    #[test]
    fn concurrent_runs_are_told_apart_by_tags() {
        let mut d = Demux::default();
        d.register(Inflight::new(Some("a".into()), true, 1000, 'a'));
        d.register(Inflight::new(Some("b".into()), true, 1000, 'b'));
        let now = SystemTime::now();
        d.log_line(Stream::Stdout, now, "\u{1e}b\u{1f}from b");
        d.reply(reply(Some("b")), 1);
        d.log_line(Stream::Stdout, now, &format!("\u{1e}b\u{1f}{SENTINEL}"));
        let done = d.log_line(Stream::Stderr, now, &format!("\u{1e}b\u{1f}{SENTINEL}"));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].0, 'b');
        assert!(done[0].1.logs[0].ends_with("from b"));
        let rest = d.exited();
        assert_eq!(rest.len(), 1);
        assert!(rest[0].1.reply.is_none(), "it ended without a reply");
    }

    #[test]
    fn untagged_runs_taken_in_turn_end_in_turn() {
        let mut d = Demux::default();
        d.register(Inflight::new(Some("a".into()), true, 1000, 'a'));
        d.register(Inflight::new(Some("b".into()), true, 1000, 'b'));
        let now = SystemTime::now();
        d.reply(reply(Some("a")), 1);
        d.reply(reply(Some("b")), 1);
        // One read of stdout holds both runs' lines and sentinels, before stderr's.
        for line in ["from a", SENTINEL, "from b", SENTINEL] {
            assert!(d.log_line(Stream::Stdout, now, line).is_empty());
        }
        let first = d.log_line(Stream::Stderr, now, SENTINEL);
        let second = d.log_line(Stream::Stderr, now, SENTINEL);
        assert_eq!((first.len(), second.len()), (1, 1));
        assert_eq!(first[0].0, 'a');
        assert!(first[0].1.logs[0].ends_with("stdout: from a"));
        assert_eq!(second[0].0, 'b');
        assert!(second[0].1.logs[0].ends_with("stdout: from b"));
    }

    #[test]
    fn ready_needs_no_sentinels() {
        let mut d = Demux::default();
        d.register(Inflight::new(None, false, 0, ()));
        let mut r = reply(None);
        r.ready = true;
        assert_eq!(d.reply(r, 14).len(), 1);
    }
}
