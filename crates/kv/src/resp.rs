//! RESP2, the Redis wire protocol: an incremental request parser (arrays of bulk strings, and
//! inline commands as telnet and some `redis-cli` modes send them) and reply encoding; and the
//! client's side of both, for the Redis backend (`encode_request`, `parse_reply`). Pure: no
//! IO, so every malformed input is a unit test.

/// A request argument or value: Redis strings are bytes.
pub type Bytes = Vec<u8>;

/// Largest bulk string accepted in a request (Redis allows 512 MB; a value larger than a
/// namespace's quota could never be stored anyway).
pub const MAX_BULK: usize = 64 << 20;
/// Most arguments in one request.
const MAX_ARGS: usize = 1 << 20;
/// Longest inline command line (Redis's limit).
const MAX_INLINE: usize = 64 << 10;

/// A reply, as RESP2 types.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`: the text after the `-`, including its code word.
    Error(String),
    Integer(i64),
    /// A bulk string; `None` is the null bulk string (`$-1`).
    Bulk(Option<Bytes>),
    /// An array; `None` is the null array (`*-1`).
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    pub fn nil() -> Reply {
        Reply::Bulk(None)
    }

    pub fn bulk(value: impl Into<Bytes>) -> Reply {
        Reply::Bulk(Some(value.into()))
    }

    /// `-ERR <message>`.
    pub fn err(message: impl std::fmt::Display) -> Reply {
        Reply::Error(format!("ERR {message}"))
    }

    pub fn array(items: impl IntoIterator<Item = Reply>) -> Reply {
        Reply::Array(Some(items.into_iter().collect()))
    }

    /// An array of bulk strings.
    pub fn bulks(items: impl IntoIterator<Item = Bytes>) -> Reply {
        Reply::array(items.into_iter().map(Reply::bulk))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the RESP2 encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(s) => line(out, b'+', s.as_bytes()),
            // A simple string or error may not contain CR or LF.
            Reply::Error(s) => line(out, b'-', s.replace(['\r', '\n'], " ").as_bytes()),
            Reply::Integer(n) => line(out, b':', n.to_string().as_bytes()),
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(b)) => {
                line(out, b'$', b.len().to_string().as_bytes());
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(None) => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                line(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }
}

fn line(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}

/// Malformed protocol: the server answers the error and closes the connection.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("Protocol error: {0}")]
pub struct ProtocolError(pub String);

impl ProtocolError {
    pub fn reply(&self) -> Reply {
        Reply::err(self)
    }
}

/// One parsed request from the front of a buffer.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    /// The arguments and how many bytes they took; an empty inline line gives no arguments.
    Request(Vec<Bytes>, usize),
    /// The buffer holds only part of a request.
    Incomplete,
}

/// Parses the request at the front of `buf`.
pub fn parse_request(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    match buf.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'*') => parse_multibulk(buf),
        Some(_) => parse_inline(buf),
    }
}

fn parse_multibulk(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    let Some((header, mut pos)) = read_line(buf, 0) else {
        return too_long(buf.len(), "invalid multibulk length");
    };
    let count = parse_len(&header[1..], MAX_ARGS)
        .ok_or_else(|| ProtocolError("invalid multibulk length".into()))?;
    let mut args = Vec::with_capacity(count.clamp(0, 1024) as usize);
    for _ in 0..count.max(0) {
        let Some((header, next)) = read_line(buf, pos) else {
            return too_long(buf.len() - pos, "invalid bulk length");
        };
        if header.first() != Some(&b'$') {
            let got = header.first().map_or(' ', |&c| c as char);
            return Err(ProtocolError(format!("expected '$', got '{got}'")));
        }
        let len = parse_len(&header[1..], MAX_BULK)
            .filter(|&n| n >= 0)
            .ok_or_else(|| ProtocolError("invalid bulk length".into()))? as usize;
        if buf.len() < next + len + 2 {
            return Ok(Parsed::Incomplete);
        }
        if &buf[next + len..next + len + 2] != b"\r\n" {
            return Err(ProtocolError("bulk string not terminated by CRLF".into()));
        }
        args.push(buf[next..next + len].to_vec());
        pos = next + len + 2;
    }
    Ok(Parsed::Request(args, pos))
}

/// Incomplete while the partial header could still be valid.
fn too_long(len: usize, what: &str) -> Result<Parsed, ProtocolError> {
    if len > 32 {
        Err(ProtocolError(what.into()))
    } else {
        Ok(Parsed::Incomplete)
    }
}

fn parse_inline(buf: &[u8]) -> Result<Parsed, ProtocolError> {
    let Some(end) = buf.iter().position(|&c| c == b'\n') else {
        if buf.len() > MAX_INLINE {
            return Err(ProtocolError("too big inline request".into()));
        }
        return Ok(Parsed::Incomplete);
    };
    let text = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    Ok(Parsed::Request(split_inline(text)?, end + 1))
}

/// Splits an inline line into arguments: whitespace separates, and `"..."` (with `\n`, `\"`,
/// `\\`, `\xHH` escapes) or `'...'` quote, as `redis-cli` does.
fn split_inline(text: &[u8]) -> Result<Vec<Bytes>, ProtocolError> {
    let unbalanced = || ProtocolError("unbalanced quotes in request".into());
    let mut args = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if text[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let mut arg = Vec::new();
        match text[i] {
            quote @ (b'"' | b'\'') => {
                i += 1;
                loop {
                    let c = *text.get(i).ok_or_else(unbalanced)?;
                    i += 1;
                    if c == quote {
                        break;
                    }
                    if c == b'\\' && quote == b'"' {
                        let e = *text.get(i).ok_or_else(unbalanced)?;
                        i += 1;
                        arg.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'x' => {
                                let hex = text.get(i..i + 2).ok_or_else(unbalanced)?;
                                i += 2;
                                std::str::from_utf8(hex)
                                    .ok()
                                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                                    .ok_or_else(unbalanced)?
                            }
                            other => other,
                        });
                    } else if c == b'\\' && text.get(i) == Some(&b'\'') {
                        arg.push(b'\'');
                        i += 1;
                    } else {
                        arg.push(c);
                    }
                }
                if text.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                    return Err(unbalanced());
                }
            }
            _ => {
                while i < text.len() && !text[i].is_ascii_whitespace() {
                    arg.push(text[i]);
                    i += 1;
                }
            }
        }
        args.push(arg);
    }
    Ok(args)
}

/// The line starting at `from` (without CRLF) and the position after it.
fn read_line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rest = &buf[from..];
    let end = rest.windows(2).take(40).position(|w| w == b"\r\n")?;
    Some((&rest[..end], from + end + 2))
}

fn parse_len(digits: &[u8], max: usize) -> Option<i64> {
    let n: i64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (n >= -1 && n <= max as i64).then_some(n)
}

/// Appends `args` as a RESP2 request (an array of bulk strings), as a client sends it.
pub fn encode_request(args: &[Bytes], out: &mut Vec<u8>) {
    line(out, b'*', args.len().to_string().as_bytes());
    for arg in args {
        Reply::bulk(arg.as_slice()).encode(out);
    }
}

/// Parses the reply at the front of `buf`, as a client reads one: the reply and how many
/// bytes it took, or `None` while the buffer holds only part of it.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, ProtocolError> {
    reply_at(buf, 0)
}

fn reply_at(buf: &[u8], pos: usize) -> Result<Option<(Reply, usize)>, ProtocolError> {
    let Some(&tag) = buf.get(pos) else {
        return Ok(None);
    };
    // Error texts can be long, so the line is not limited as a request header is.
    let Some(end) = buf[pos..].windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let body = &buf[pos + 1..pos + end];
    let next = pos + end + 2;
    let text = || String::from_utf8_lossy(body).into_owned();
    let number = || {
        std::str::from_utf8(body)
            .ok()
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| ProtocolError(format!("bad reply header '{}'", text())))
    };
    Ok(Some(match tag {
        b'+' => (Reply::Simple(text()), next),
        b'-' => (Reply::Error(text()), next),
        b':' => (Reply::Integer(number()?), next),
        b'$' => match number()? {
            -1 => (Reply::nil(), next),
            len if len < 0 => return Err(ProtocolError("bad bulk length".into())),
            len => {
                let end = next + len as usize;
                if buf.len() < end + 2 {
                    return Ok(None);
                }
                (Reply::bulk(&buf[next..end]), end + 2)
            }
        },
        b'*' => match number()? {
            -1 => (Reply::Array(None), next),
            n if n < 0 => return Err(ProtocolError("bad array length".into())),
            n => {
                let mut items = Vec::with_capacity((n as usize).min(1024));
                let mut at = next;
                for _ in 0..n {
                    match reply_at(buf, at)? {
                        Some((item, after)) => {
                            items.push(item);
                            at = after;
                        }
                        None => return Ok(None),
                    }
                }
                (Reply::array(items), at)
            }
        },
        other => {
            return Err(ProtocolError(format!(
                "unexpected reply type '{}'",
                other as char
            )))
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(parts: &[&str]) -> Vec<Bytes> {
        parts.iter().map(|p| p.as_bytes().to_vec()).collect()
    }

    #[test]
    fn parses_a_multibulk_request_and_reports_its_length() {
        let buf = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
        assert_eq!(
            parse_request(buf),
            Ok(Parsed::Request(args(&["GET", "k"]), 20))
        );
        assert_eq!(
            parse_request(&buf[20..]),
            Ok(Parsed::Request(args(&["PING"]), 14))
        );
    }

    #[test]
    fn every_prefix_of_a_request_is_incomplete() {
        let buf = b"*2\r\n$3\r\nSET\r\n$0\r\n\r\n";
        for end in 0..buf.len() {
            assert_eq!(parse_request(&buf[..end]), Ok(Parsed::Incomplete), "{end}");
        }
        assert_eq!(
            parse_request(buf),
            Ok(Parsed::Request(args(&["SET", ""]), buf.len()))
        );
    }

    #[test]
    fn bulk_strings_are_binary_safe() {
        let buf = b"*1\r\n$4\r\na\r\nb\r\n";
        assert_eq!(
            parse_request(buf),
            Ok(Parsed::Request(vec![b"a\r\nb".to_vec()], buf.len()))
        );
    }

    #[test]
    fn malformed_requests_are_protocol_errors() {
        for bad in [
            &b"*x\r\n"[..],
            b"*2\r\n:1\r\n",
            b"*1\r\n$-5\r\n",
            b"*1\r\n$3\r\nabcde\r\n",
            b"*99999999999\r\n",
        ] {
            assert!(
                parse_request(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(parse_request(&[b'*'; 100]).is_err());
    }

    #[test]
    fn inline_commands_split_on_whitespace_and_honour_quotes() {
        let buf = b"set k \"a b\\x41\\n\" 'it s'\r\nping\n";
        assert_eq!(
            parse_request(buf),
            Ok(Parsed::Request(args(&["set", "k", "a bA\n", "it s"]), 26))
        );
        assert_eq!(parse_request(b"  \r\n"), Ok(Parsed::Request(vec![], 4)));
        assert!(parse_request(b"get \"k\r\n").is_err());
        assert!(parse_request(b"get 'a'b\r\n").is_err());
        assert_eq!(parse_request(b"get k"), Ok(Parsed::Incomplete));
    }

    #[test]
    fn replies_encode_as_resp2() {
        let mut out = Vec::new();
        Reply::array([
            Reply::ok(),
            Reply::Error("ERR a\r\nb".into()),
            Reply::Integer(-3),
            Reply::bulk("hi"),
            Reply::nil(),
            Reply::Array(None),
        ])
        .encode(&mut out);
        assert_eq!(
            out,
            b"*6\r\n+OK\r\n-ERR a  b\r\n:-3\r\n$2\r\nhi\r\n$-1\r\n*-1\r\n".to_vec()
        );
    }

    #[test]
    fn replies_parse_back_from_their_encoding() {
        let reply = Reply::array([
            Reply::ok(),
            Reply::Error("WRONGTYPE Operation".into()),
            Reply::Integer(-3),
            Reply::bulk("a\r\nb"),
            Reply::nil(),
            Reply::Array(None),
            Reply::array([Reply::bulk("0"), Reply::bulks([b"k".to_vec()])]),
        ]);
        let mut out = Vec::new();
        reply.encode(&mut out);
        out.extend_from_slice(b":7\r\n");
        assert_eq!(parse_reply(&out), Ok(Some((reply, out.len() - 4))));
        for end in 0..out.len() - 4 {
            assert_eq!(parse_reply(&out[..end]), Ok(None), "{end}");
        }
        assert!(parse_reply(b"?\r\n").is_err());
        assert!(parse_reply(b":x\r\n").is_err());
    }

    #[test]
    fn requests_encode_as_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        encode_request(&args(&["SET", "k", ""]), &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n".to_vec());
        assert_eq!(
            parse_request(&out),
            Ok(Parsed::Request(args(&["SET", "k", ""]), out.len()))
        );
    }
}
