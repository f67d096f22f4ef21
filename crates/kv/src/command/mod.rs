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
