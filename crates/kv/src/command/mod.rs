//! Commands: what a request means, parsed once from its arguments by a pure function.
//!
//! [`Request::parse`] splits requests in two: [`Connection`] commands, which the server answers
//! from the connection's own state (AUTH, SELECT, MULTI ...), and data [`Command`]s, which go to
//! a [`crate::KvStore`]. Arity and argument errors are found here, with Redis's texts, so every
//! backend sees only well-formed commands.

use crate::resp::{Bytes, Reply};

mod parse;

pub use parse::unknown_command;

/// A data command on the caller's keyspace.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Get(Bytes),
    Set(Set),
    /// SETNX: replies 1 or 0, unlike `SET NX`.
    SetNx(Bytes, Bytes),
    GetSet(Bytes, Bytes),
    MGet(Vec<Bytes>),
    MSet(Vec<(Bytes, Bytes)>),
    /// INCR, DECR, INCRBY, DECRBY.
    IncrBy(Bytes, i64),
    IncrByFloat(Bytes, f64),
    Append(Bytes, Bytes),
    Strlen(Bytes),
    Del(Vec<Bytes>),
    Exists(Vec<Bytes>),
    /// EXPIRE (seconds, converted) and PEXPIRE: milliseconds from now; the name is for errors.
    Expire(Bytes, i64, &'static str),
    /// TTL (`false`) and PTTL (`true`).
    Ttl(Bytes, bool),
    Persist(Bytes),
    Type(Bytes),
    Keys(Bytes),
    Scan {
        cursor: u64,
        pattern: Option<Bytes>,
        count: usize,
    },
    DbSize,
    /// FLUSHDB and FLUSHALL: both empty only the caller's namespace.
    Flush,
    SAdd(Bytes, Vec<Bytes>),
    SRem(Bytes, Vec<Bytes>),
    SMembers(Bytes),
    SIsMember(Bytes, Bytes),
    SCard(Bytes),
    /// LPUSH (`left`) and RPUSH.
    Push {
        key: Bytes,
        left: bool,
        values: Vec<Bytes>,
    },
    /// LPOP (`left`) and RPOP, with the optional count of Redis 6.2.
    Pop {
        key: Bytes,
        left: bool,
        count: Option<usize>,
    },
    LRange(Bytes, i64, i64),
    LLen(Bytes),
    LIndex(Bytes, i64),
    LRem(Bytes, i64, Bytes),
    /// HSET (replies the number of new fields) and HMSET (`+OK`).
    HSet {
        key: Bytes,
        pairs: Vec<(Bytes, Bytes)>,
        hmset: bool,
    },
    HGet(Bytes, Bytes),
    HMGet(Bytes, Vec<Bytes>),
    HGetAll(Bytes),
    HDel(Bytes, Vec<Bytes>),
    HExists(Bytes, Bytes),
    HKeys(Bytes),
    HVals(Bytes),
    HLen(Bytes),
    HIncrBy(Bytes, Bytes, i64),
}

impl Command {
    /// SET `key` to `value`, expiring after `ttl_seconds` when given; `None` when that is 0 or
    /// too large to be a time (Redis's "invalid expire time").
    pub fn set(key: Bytes, value: Bytes, ttl_seconds: Option<u64>) -> Option<Command> {
        let expire_ms = match ttl_seconds {
            None => None,
            Some(s) => Some(seconds_to_ms(s).filter(|&ms| ms > 0)?),
        };
        Some(Command::Set(Set {
            key,
            value,
            expire_ms,
            if_absent: None,
            keep_ttl: false,
            get: false,
        }))
    }

    /// EXPIRE `key` `seconds`; `None` when the seconds are too large to be a time.
    pub fn expire(key: Bytes, seconds: u64) -> Option<Command> {
        Some(Command::Expire(key, seconds_to_ms(seconds)?, "expire"))
    }

    /// KEYS of every key that starts with `prefix`, taken literally (glob characters escaped).
    pub fn keys_with_prefix(prefix: &[u8]) -> Command {
        Command::Keys(crate::glob::prefix_pattern(prefix))
    }
}

fn seconds_to_ms(seconds: u64) -> Option<i64> {
    i64::try_from(seconds).ok()?.checked_mul(1000)
}

/// What an error reply means to a client that is not a Redis client (the REST API); decided
/// here, next to the texts it is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// WRONGTYPE: the key holds another type of value.
    WrongType,
    /// A write that would take the namespace past its quota.
    Quota,
    /// INCR on a value that is not an integer, or a result that would overflow.
    NotANumber,
    /// The store could not make the change durable.
    Failed,
    /// Anything else: the command's arguments were refused.
    Invalid,
}

/// The start of the quota error's text (after `ERR `).
pub const QUOTA_EXCEEDED: &str = "quota exceeded";
/// The start of a persistence failure's text (after `ERR `).
pub const PERSISTENCE_FAILED: &str = "kv persistence";

impl Refusal {
    /// The refusal an error reply's text (`WRONGTYPE ...`, `ERR ...`) stands for.
    pub fn of(error: &str) -> Refusal {
        let text = error.strip_prefix("ERR ").unwrap_or(error);
        if error.starts_with("WRONGTYPE") {
            Refusal::WrongType
        } else if text.starts_with(QUOTA_EXCEEDED) {
            Refusal::Quota
        } else if text.starts_with(PERSISTENCE_FAILED) {
            Refusal::Failed
        } else if text.starts_with("value is not an integer")
            || text.starts_with("value is not a valid float")
            || text.ends_with("would overflow")
        {
            Refusal::NotANumber
        } else {
            Refusal::Invalid
        }
    }
}

/// SET and its options (SETEX is a SET with an expiry).
#[derive(Debug, Clone, PartialEq)]
pub struct Set {
    pub key: Bytes,
    pub value: Bytes,
    /// Milliseconds from now.
    pub expire_ms: Option<i64>,
    /// `Some(true)`: NX, only if absent; `Some(false)`: XX, only if present.
    pub if_absent: Option<bool>,
    pub keep_ttl: bool,
    /// `GET`: reply the old value instead of OK.
    pub get: bool,
}

impl Set {
    /// SET `key` `value` KEEPTTL: a new value under the key's current expiry.
    pub fn keeping_ttl(key: Bytes, value: Bytes) -> Set {
        Set {
            key,
            value,
            expire_ms: None,
            if_absent: None,
            keep_ttl: true,
            get: false,
        }
    }
}

/// A command the server answers from the connection's state.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Auth {
        user: Option<Bytes>,
        password: Bytes,
    },
    Ping(Option<Bytes>),
    Echo(Bytes),
    Select(i64),
    Quit,
    Info,
    /// COMMAND (any form): an empty array.
    CommandDocs,
    ClientSetName(Bytes),
    ClientGetName,
    /// CLIENT SETINFO (redis-py 5 sends it) and other harmless CLIENT calls: `+OK`.
    ClientOk,
    Multi,
    Exec,
    Discard,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Connection(Connection),
    Data(Command),
}

pub fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!("wrong number of arguments for '{name}' command"))
}

pub fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

pub fn not_an_integer() -> Reply {
    Reply::err("value is not an integer or out of range")
}

pub fn not_a_float() -> Reply {
    Reply::err("value is not a valid float")
}

/// Redis's `string2ll`: an optional minus, no leading zeros, no plus, no spaces.
pub fn parse_int(arg: &[u8]) -> Option<i64> {
    let digits = arg.strip_prefix(b"-").unwrap_or(arg);
    let canonical = match digits {
        [b'0'] => arg.len() == 1,
        [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    canonical
        .then(|| std::str::from_utf8(arg).ok()?.parse().ok())
        .flatten()
}

/// A float as Redis reads one: no spaces, finite or `inf`.
pub fn parse_float(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty() || text.bytes().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| !v.is_nan())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_build_what_the_parser_would() {
        let parsed = |args: &[&str]| {
            let args: Vec<Bytes> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
            match Request::parse(args) {
                Ok(Request::Data(command)) => command,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            Command::set(b"k".to_vec(), b"v".to_vec(), None),
            Some(parsed(&["SET", "k", "v"]))
        );
        assert_eq!(
            Command::set(b"k".to_vec(), b"v".to_vec(), Some(10)),
            Some(parsed(&["SET", "k", "v", "EX", "10"]))
        );
        assert_eq!(Command::set(b"k".to_vec(), b"v".to_vec(), Some(0)), None);
        assert_eq!(
            Command::set(b"k".to_vec(), b"v".to_vec(), Some(u64::MAX)),
            None
        );
        assert_eq!(
            Command::expire(b"k".to_vec(), 5),
            Some(parsed(&["EXPIRE", "k", "5"]))
        );
        assert_eq!(Command::expire(b"k".to_vec(), u64::MAX), None);
        assert_eq!(Command::keys_with_prefix(b"a*"), parsed(&["KEYS", "a\\**"]));
    }

    #[test]
    fn refusals_are_read_from_the_error_texts() {
        let of = |reply: Reply| match reply {
            Reply::Error(text) => Refusal::of(&text),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            Refusal::of("WRONGTYPE Operation against a key holding the wrong kind of value"),
            Refusal::WrongType
        );
        assert_eq!(
            of(Reply::err(format!("{QUOTA_EXCEEDED}: namespace 'a' ..."))),
            Refusal::Quota
        );
        assert_eq!(
            of(Reply::err(format!("{PERSISTENCE_FAILED} stopped"))),
            Refusal::Failed
        );
        assert_eq!(of(not_an_integer()), Refusal::NotANumber);
        assert_eq!(
            of(Reply::err("increment or decrement would overflow")),
            Refusal::NotANumber
        );
        assert_eq!(of(syntax_error()), Refusal::Invalid);
    }
}
