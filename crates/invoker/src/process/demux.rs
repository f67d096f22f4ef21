//! Routes what one runtime process writes to the activations in flight on it.
//!
//! Pure state: the process driver feeds it events (a registration, a log line, a reply on fd 3,
//! end of a pipe) and it says which activations are finished. An activation is finished when
//! its reply has arrived and both streams have shown its sentinel, or when the process is gone.

use std::time::SystemTime;

use super::protocol::{split_tag, Reply, SENTINEL};
use crate::logs::{LogBuffer, Stream};

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

    /// A reply line that could not be parsed (nested deeper than the parser goes, a lone
    /// surrogate, not JSON): `reply`, an error saying so, goes to the exchange whose
    /// `activation_id` the line names, read by [`activation_id_of`], else to the only exchange
    /// in flight. Dropping it would leave its activation waiting for its timeout.
    pub fn unparsable_reply(&mut self, line: &str, reply: Reply) -> Vec<(T, Finished)> {
        let index = activation_id_of(line)
            .and_then(|id| self.target(id))
            .or_else(|| (self.inflight.len() == 1).then_some(0));
        if let Some(index) = index {
            self.inflight[index].reply = Some((reply, line.len()));
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

/// The `activation_id` member of a reply line whatever else the line holds: the members of the
/// outer object are walked over without parsing their values, so a value too deep or with a
/// bad escape does not hide it. `None` when the line has no such string member.
pub fn activation_id_of(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let mut depth = 0usize;
    // The last string read in the outer object: a key when a `:` follows it.
    let mut last_string = None;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 && i < bytes.len() {
                    last_string = Some(&line[start..i]);
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b':' if depth == 1 && last_string.take() == Some("activation_id") => {
                let value = line[i + 1..].trim_start().strip_prefix('"')?;
                let id = &value[..value.find('"')?];
                return (!id.contains('\\')).then_some(id);
            }
            _ => {}
        }
        i += 1;
    }
    None
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

    fn unparsable() -> Reply {
        Reply {
            error: Some("unparsable".into()),
            ..reply(None)
        }
    }

    #[test]
    fn the_activation_id_is_found_whatever_the_rest_of_the_line_holds() {
        let deep = format!(
            r#"{{"activation_id":"a1","result":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(activation_id_of(&deep), Some("a1"));
        let surrogate = r#"{"activation_id":"b2","result":{"s":"\ud800"}}"#;
        assert_eq!(activation_id_of(surrogate), Some("b2"));
        let later =
            r#"{ "result": {"activation_id": "inner", "x": "\"}"}, "activation_id" : "c3"}"#;
        assert_eq!(activation_id_of(later), Some("c3"), "not the result's own");
        assert_eq!(activation_id_of(r#"{"result":NaN}"#), None);
        assert_eq!(activation_id_of("not json at all"), None);
        assert_eq!(activation_id_of(r#"{"activation_id":"cut"#), None);
        assert_eq!(activation_id_of(r#"{"activation_id":7}"#), None);
    }

    #[test]
    fn an_unparsable_reply_ends_the_activation_it_names() {
        let mut d = Demux::default();
        d.register(Inflight::new(Some("a".into()), true, 1000, 'a'));
        d.register(Inflight::new(Some("b".into()), true, 1000, 'b'));
        let now = SystemTime::now();
        d.unparsable_reply(
            r#"{"activation_id":"b","result":{"s":"\ud800"}}"#,
            unparsable(),
        );
        d.log_line(Stream::Stdout, now, &format!("\u{1e}b\u{1f}{SENTINEL}"));
        let done = d.log_line(Stream::Stderr, now, &format!("\u{1e}b\u{1f}{SENTINEL}"));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].0, 'b');
        assert_eq!(done[0].1.reply, Some(unparsable()));
    }

    #[test]
    fn an_unparsable_reply_without_an_id_goes_to_the_only_exchange() {
        let mut d = Demux::default();
        d.register(Inflight::new(Some("a".into()), true, 1000, 'a'));
        let now = SystemTime::now();
        d.unparsable_reply("{\"result\":NaN}", unparsable());
        d.log_line(Stream::Stdout, now, SENTINEL);
        let done = d.log_line(Stream::Stderr, now, SENTINEL);
        assert_eq!(done.len(), 1, "it ended");
        assert_eq!(done[0].1.reply, Some(unparsable()));

        // With two in flight and no id, no exchange can be told: neither ends on it.
        d.register(Inflight::new(Some("a".into()), true, 1000, 'a'));
        d.register(Inflight::new(Some("b".into()), true, 1000, 'b'));
        d.unparsable_reply("{\"result\":NaN}", unparsable());
        assert!(d.exited().iter().all(|(_, f)| f.reply.is_none()));
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
