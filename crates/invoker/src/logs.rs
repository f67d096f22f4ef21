//! The log lines of one activation, in OpenWhisk's format and within its size limit.

use std::time::SystemTime;

use wisp_core::time::rfc3339_nanos;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Collects formatted log lines until `limit` bytes of text, then notes the truncation.
#[derive(Debug)]
pub struct LogBuffer {
    lines: Vec<String>,
    bytes: usize,
    limit: usize,
    truncated: bool,
}

impl LogBuffer {
    pub fn new(limit: usize) -> LogBuffer {
        LogBuffer {
            lines: Vec::new(),
            bytes: 0,
            limit,
            truncated: false,
        }
    }

    pub fn push(&mut self, stream: Stream, time: SystemTime, text: &str) {
        if self.truncated {
            return;
        }
        if self.bytes + text.len() > self.limit {
            self.truncated = true;
            return;
        }
        self.bytes += text.len();
        self.lines.push(format_line(stream, time, text));
    }

    /// Notes that text was lost before it reached the buffer (a producer cut it at the limit).
    pub fn truncate(&mut self) {
        self.truncated = true;
    }

    pub fn finish(mut self) -> Vec<String> {
        if self.truncated {
            self.lines.push(format!(
                "Logs were truncated because the total bytes size exceeds the limit of {} bytes.",
                self.limit
            ));
        }
        self.lines
    }
}

/// `<timestamp padded to 30> <stream>: <text>`.
pub fn format_line(stream: Stream, time: SystemTime, text: &str) -> String {
    format!("{:<30} {}: {}", rfc3339_nanos(time), stream.as_str(), text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn lines_have_openwhisk_shape() {
        let t = UNIX_EPOCH + Duration::new(1_709_288_430, 123_456_789);
        assert_eq!(
            format_line(Stream::Stdout, t, "hello"),
            "2024-03-01T10:20:30.123456789Z stdout: hello"
        );
    }

    #[test]
    fn truncates_past_the_limit() {
        let mut buf = LogBuffer::new(10);
        buf.push(Stream::Stdout, SystemTime::now(), "12345");
        buf.push(Stream::Stderr, SystemTime::now(), "123456");
        buf.push(Stream::Stdout, SystemTime::now(), "1");
        let lines = buf.finish();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("Logs were truncated"));
    }
}
