//! List, set and hash commands. A collection emptied by a command is deleted by
//! [`super::keyspace::Tx::finish`], as Redis deletes empty collections.

use std::collections::{HashMap, HashSet, VecDeque};

use super::keyspace::Tx;
use crate::command::parse_int;
use crate::resp::{Bytes, Reply};

type List = VecDeque<Bytes>;
type Set = HashSet<Bytes>;
type Hash = HashMap<Bytes, Bytes>;

/// Runs `f` on the value at `key` if present, or replies `absent`.
fn read<T: super::keyspace::Kind>(
    tx: &mut Tx,
    key: &[u8],
    absent: Reply,
    f: impl FnOnce(&T) -> Reply,
) -> Reply {
    match tx.typed::<T>(key) {
        Ok(Some(v)) => f(v),
        Ok(None) => absent,
        Err(e) => e,
    }
}

/// Runs `f` on the value at `key`, created empty if absent.
fn write<T: super::keyspace::Kind>(
    tx: &mut Tx,
    key: &[u8],
    f: impl FnOnce(&mut T) -> Reply,
) -> Reply {
    match tx.typed_mut::<T>(key) {
        Ok(v) => f(v),
        Err(e) => e,
    }
}

/// Runs `f` on the value at `key` if present (nothing is created), or replies `absent`.
fn change<T: super::keyspace::Kind>(
    tx: &mut Tx,
    key: &[u8],
    absent: Reply,
    f: impl FnOnce(&mut T) -> Reply,
) -> Reply {
    match tx.typed::<T>(key) {
        Ok(Some(_)) => write(tx, key, f),
        Ok(None) => absent,
        Err(e) => e,
    }
}

pub fn sadd(tx: &mut Tx, key: &[u8], members: Vec<Bytes>) -> Reply {
    write(tx, key, |s: &mut Set| {
        Reply::Integer(members.into_iter().filter(|m| s.insert(m.clone())).count() as i64)
    })
}

pub fn srem(tx: &mut Tx, key: &[u8], members: Vec<Bytes>) -> Reply {
    change(tx, key, Reply::Integer(0), |s: &mut Set| {
        Reply::Integer(members.iter().filter(|m| s.remove(*m)).count() as i64)
    })
}

pub fn smembers(tx: &mut Tx, key: &[u8]) -> Reply {
    read(tx, key, Reply::array([]), |s: &Set| {
        Reply::bulks(s.iter().cloned())
    })
}

pub fn sismember(tx: &mut Tx, key: &[u8], member: &[u8]) -> Reply {
    read(tx, key, Reply::Integer(0), |s: &Set| {
        Reply::Integer(s.contains(member) as i64)
    })
}

pub fn scard(tx: &mut Tx, key: &[u8]) -> Reply {
    read(tx, key, Reply::Integer(0), |s: &Set| {
        Reply::Integer(s.len() as i64)
    })
}

pub fn push(tx: &mut Tx, key: &[u8], left: bool, values: Vec<Bytes>) -> Reply {
    write(tx, key, |l: &mut List| {
        for v in values {
            if left {
                l.push_front(v);
            } else {
                l.push_back(v);
            }
        }
        Reply::Integer(l.len() as i64)
    })
}

pub fn pop(tx: &mut Tx, key: &[u8], left: bool, count: Option<usize>) -> Reply {
    let absent = if count.is_some() {
        Reply::Array(None)
    } else {
        Reply::nil()
    };
    change(tx, key, absent, |l: &mut List| {
        let mut take = || if left { l.pop_front() } else { l.pop_back() };
        match count {
            None => Reply::Bulk(take()),
            Some(n) => Reply::bulks(std::iter::from_fn(take).take(n)),
        }
    })
}

/// Redis's index rules: negative counts from the end; the range is clamped.
fn range(len: usize, start: i64, stop: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

pub fn lrange(tx: &mut Tx, key: &[u8], start: i64, stop: i64) -> Reply {
    read(tx, key, Reply::array([]), |l: &List| {
        match range(l.len(), start, stop) {
            Some((a, b)) => Reply::bulks(l.range(a..=b).cloned()),
            None => Reply::array([]),
        }
    })
}

pub fn llen(tx: &mut Tx, key: &[u8]) -> Reply {
    read(tx, key, Reply::Integer(0), |l: &List| {
        Reply::Integer(l.len() as i64)
    })
}

pub fn lindex(tx: &mut Tx, key: &[u8], index: i64) -> Reply {
    read(tx, key, Reply::nil(), |l: &List| {
        let i = if index < 0 {
            l.len() as i64 + index
        } else {
            index
        };
        Reply::Bulk(usize::try_from(i).ok().and_then(|i| l.get(i)).cloned())
    })
}

pub fn lrem(tx: &mut Tx, key: &[u8], count: i64, value: &[u8]) -> Reply {
    change(tx, key, Reply::Integer(0), |l: &mut List| {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        let mut keep = |v: &Bytes| {
            if removed < limit && v == value {
                removed += 1;
                false
            } else {
                true
            }
        };
        let kept: List = if count < 0 {
            let mut kept: List = l.iter().rev().filter(|v| keep(v)).cloned().collect();
            kept.make_contiguous().reverse();
            kept
        } else {
            l.iter().filter(|v| keep(v)).cloned().collect()
        };
        *l = kept;
        Reply::Integer(removed as i64)
    })
}

pub fn hset(tx: &mut Tx, key: &[u8], pairs: Vec<(Bytes, Bytes)>, hmset: bool) -> Reply {
    write(tx, key, |h: &mut Hash| {
        let added = pairs
            .into_iter()
            .filter(|(f, v)| h.insert(f.clone(), v.clone()).is_none());
        let added = added.count() as i64;
        if hmset {
            Reply::ok()
        } else {
            Reply::Integer(added)
        }
    })
}

pub fn hget(tx: &mut Tx, key: &[u8], field: &[u8]) -> Reply {
    read(tx, key, Reply::nil(), |h: &Hash| {
        Reply::Bulk(h.get(field).cloned())
    })
}

pub fn hmget(tx: &mut Tx, key: &[u8], fields: Vec<Bytes>) -> Reply {
    let absent = Reply::array(fields.iter().map(|_| Reply::nil()));
    read(tx, key, absent, |h: &Hash| {
        Reply::array(fields.iter().map(|f| Reply::Bulk(h.get(f).cloned())))
    })
}

pub fn hgetall(tx: &mut Tx, key: &[u8]) -> Reply {
    read(tx, key, Reply::array([]), |h: &Hash| {
        Reply::bulks(h.iter().flat_map(|(f, v)| [f.clone(), v.clone()]))
    })
}

pub fn hdel(tx: &mut Tx, key: &[u8], fields: Vec<Bytes>) -> Reply {
    change(tx, key, Reply::Integer(0), |h: &mut Hash| {
        Reply::Integer(fields.iter().filter(|f| h.remove(*f).is_some()).count() as i64)
    })
}

pub fn hexists(tx: &mut Tx, key: &[u8], field: &[u8]) -> Reply {
    read(tx, key, Reply::Integer(0), |h: &Hash| {
        Reply::Integer(h.contains_key(field) as i64)
    })
}

pub fn hkeys(tx: &mut Tx, key: &[u8]) -> Reply {
    read(tx, key, Reply::array([]), |h: &Hash| {
        Reply::bulks(h.keys().cloned())
    })
}

pub fn hvals(tx: &mut Tx, key: &[u8]) -> Reply {
    read(tx, key, Reply::array([]), |h: &Hash| {
        Reply::bulks(h.values().cloned())
    })
}

pub fn hlen(tx: &mut Tx, key: &[u8]) -> Reply {
    read(tx, key, Reply::Integer(0), |h: &Hash| {
        Reply::Integer(h.len() as i64)
    })
}

pub fn hincrby(tx: &mut Tx, key: &[u8], field: Bytes, by: i64) -> Reply {
    write(tx, key, |h: &mut Hash| {
        let current = match h.get(&field) {
            None => 0,
            Some(v) => match parse_int(v) {
                Some(n) => n,
                None => return Reply::err("hash value is not an integer"),
            },
        };
        match current.checked_add(by) {
            Some(next) => {
                h.insert(field, next.to_string().into_bytes());
                Reply::Integer(next)
            }
            None => Reply::err("increment or decrement would overflow"),
        }
    })
}
